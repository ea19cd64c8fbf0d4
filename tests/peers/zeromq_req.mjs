// A REQ client on zeromq.js (libzmq) under Node: sends each argument after
// the endpoint as a request and prints each reply on its own line.
import { Request } from "zeromq";

const [endpoint, ...requests] = process.argv.slice(2);
const socket = new Request({ receiveTimeout: 10000 });
socket.connect(endpoint);
for (const request of requests) {
  await socket.send(request);
  const [reply] = await socket.receive();
  console.log(reply.toString("utf8"));
}
socket.close();
