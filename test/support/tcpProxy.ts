// A TCP proxy on loopback that can make the connections through it go silent without closing them,
// the way a dead peer or a broken NAT leaves a watch hanging: the failure a watchdog exists for.
import net from 'node:net';

export class TcpProxy {
  private readonly sockets = new Set<{ client: net.Socket; upstream: net.Socket; silent: boolean }>();

  private constructor(
    private readonly server: net.Server,
    readonly port: number,
  ) {}

  static async start(targetHost: string, targetPort: number): Promise<TcpProxy> {
    let proxy: TcpProxy | undefined;
    const server = net.createServer((client) => {
      const upstream = net.connect(targetPort, targetHost);
      const pair = { client, upstream, silent: false };
      proxy!.sockets.add(pair);
      client.on('data', (d) => pair.silent || upstream.write(d));
      upstream.on('data', (d) => pair.silent || client.write(d));
      const end = () => {
        proxy!.sockets.delete(pair);
        client.destroy();
        upstream.destroy();
      };
      client.on('close', end).on('error', end);
      upstream.on('close', end).on('error', end);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    proxy = new TcpProxy(server, (server.address() as net.AddressInfo).port);
    return proxy;
  }

  /** Every connection open now drops all data from here on, but stays open. New connections work. */
  silenceOpenConnections(): number {
    for (const pair of this.sockets) pair.silent = true;
    return this.sockets.size;
  }

  async stop(): Promise<void> {
    for (const { client, upstream } of this.sockets) {
      client.destroy();
      upstream.destroy();
    }
    await new Promise((r) => this.server.close(r));
  }
}
