import type { Server } from "node:http";
import type { AddressInfo } from "node:net";

/** Listens on `host:port` (port 0: any free one) and gives the origin clients reach, IPv6 bracketed. */
export async function listenOn(http: Server, port: number, host: string): Promise<string> {
  await new Promise<void>((resolve, reject) => {
    http.once("error", reject);
    http.listen(port, host, () => resolve());
  });
  const address = http.address() as AddressInfo;
  const name = address.family === "IPv6" ? `[${address.address}]` : address.address;
  return `http://${name}:${address.port}`;
}
