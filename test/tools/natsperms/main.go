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
	"reflect"
	"unsafe"

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

// One export or import of an account, as nats-server holds it after parsing.
type link struct {
	Type     string   `json:"type"`
	Subject  string   `json:"subject"`
	Account  string   `json:"account,omitempty"`  // imports: the exporting account
	Accounts []string `json:"accounts,omitempty"` // exports: the accounts allowed to import
	Invalid  bool     `json:"invalid,omitempty"`
}

type jetstreamLimits struct {
	MaxMemory    int64 `json:"maxMemory"`
	MaxFile      int64 `json:"maxFile"`
	MaxStreams   int   `json:"maxStreams"`
	MaxConsumers int   `json:"maxConsumers"`
}

type account struct {
	Name    string `json:"name"`
	Exports []link `json:"exports"`
	Imports []link `json:"imports"`
	// The account's JetStream limits as parsed (nil: JetStream not enabled for it).
	JetStream *jetstreamLimits `json:"jetstream"`
}

// accountJetStream reads the limits the parser assigned to the account. nats-server keeps them
// unexported until JetStream runs, which this tool never starts.
func accountJetStream(a *server.Account) *jetstreamLimits {
	f := reflect.ValueOf(a).Elem().FieldByName("jsLimits")
	limits := reflect.NewAt(f.Type(), unsafe.Pointer(f.UnsafeAddr())).Elem().Interface().(map[string]server.JetStreamAccountLimits)
	l, ok := limits[""]
	if !ok {
		return nil
	}
	return &jetstreamLimits{MaxMemory: l.MaxMemory, MaxFile: l.MaxStore, MaxStreams: l.MaxStreams, MaxConsumers: l.MaxConsumers}
}

type result struct {
	Path     string    `json:"path"`
	Error    string    `json:"error,omitempty"`
	Users    []user    `json:"users,omitempty"`
	Accounts []account `json:"accounts,omitempty"`
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
	out := result{Path: path, Users: []user{}, Accounts: []account{}}
	for _, a := range opts.Accounts {
		info, err := s.Accountz(&server.AccountzOptions{Account: a.Name})
		if err != nil || info.Account == nil {
			s.Shutdown()
			return result{Path: path, Error: "accountz " + a.Name + ": " + errString(err)}
		}
		acc := account{Name: a.Name, Exports: []link{}, Imports: []link{}, JetStream: accountJetStream(a)}
		for _, e := range info.Account.Exports {
			acc.Exports = append(acc.Exports, link{Type: e.Type.String(), Subject: string(e.Subject), Accounts: e.ApprovedAccounts})
		}
		for _, i := range info.Account.Imports {
			// Imports the config does not declare (the system account's, added to every account) are left out.
			if i.Account == "" || i.Account == "$SYS" {
				continue
			}
			acc.Imports = append(acc.Imports, link{Type: i.Type.String(), Subject: string(i.Subject), Account: i.Account, Invalid: i.Invalid})
		}
		out.Accounts = append(out.Accounts, acc)
	}
	s.Shutdown()
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

func errString(err error) string {
	if err == nil {
		return "no account info"
	}
	return err.Error()
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
