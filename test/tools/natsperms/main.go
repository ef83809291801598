// natsperms parses NATS config files with nats-server's own code and prints, per file, either the
// error nats-server reports or the permissions it would enforce for every nkey user, as one JSON line.
// Tests use it to check that rendered configs are valid and mean exactly what the compiler intended,
// thousands of times faster than starting one nats-server per config.
//
// Usage: natsperms < paths   (one config path per input line)
package main

import (
	"bufio"
	"encoding/json"
	"os"

	"github.com/nats-io/nats-server/v2/server"
)

type subjectPermission struct {
	Allow []string `json:"allow"`
	Deny  []string `json:"deny"`
}

type user struct {
	Nkey      string             `json:"nkey"`
	Account   string             `json:"account"`
	Publish   *subjectPermission `json:"publish"`
	Subscribe *subjectPermission `json:"subscribe"`
	Responses *struct {
		MaxMsgs int   `json:"max"`
		Expires int64 `json:"expiresNanos"`
	} `json:"responses"`
	HasPermissions bool `json:"hasPermissions"`
}

type result struct {
	Path  string `json:"path"`
	Error string `json:"error,omitempty"`
	Users []user `json:"users,omitempty"`
}

func convert(p *server.SubjectPermission) *subjectPermission {
	if p == nil {
		return nil
	}
	return &subjectPermission{Allow: p.Allow, Deny: p.Deny}
}

func inspect(path string) result {
	opts, err := server.ProcessConfigFile(path)
	if err != nil {
		return result{Path: path, Error: err.Error()}
	}
	// NewServer runs the option validation that `nats-server` does at start (duplicate users, ...).
	s, err := server.NewServer(opts)
	if err != nil {
		return result{Path: path, Error: err.Error()}
	}
	s.Shutdown()
	out := result{Path: path, Users: []user{}}
	for _, nk := range opts.Nkeys {
		u := user{Nkey: nk.Nkey}
		if nk.Account != nil {
			u.Account = nk.Account.Name
		}
		if p := nk.Permissions; p != nil {
			u.HasPermissions = true
			u.Publish = convert(p.Publish)
			u.Subscribe = convert(p.Subscribe)
			if p.Response != nil {
				u.Responses = &struct {
					MaxMsgs int   `json:"max"`
					Expires int64 `json:"expiresNanos"`
				}{p.Response.MaxMsgs, int64(p.Response.Expires)}
			}
		}
		out.Users = append(out.Users, u)
	}
	return out
}

func main() {
	in := bufio.NewScanner(os.Stdin)
	in.Buffer(make([]byte, 1<<20), 1<<20)
	w := bufio.NewWriter(os.Stdout)
	enc := json.NewEncoder(w)
	for in.Scan() {
		if err := enc.Encode(inspect(in.Text())); err != nil {
			panic(err)
		}
		w.Flush()
	}
}
