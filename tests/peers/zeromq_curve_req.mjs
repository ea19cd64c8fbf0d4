// A CURVE REQ client on zeromq.js (libzmq) under Node: sends each argument
// after the keys as a request and prints each reply on its own line.
//
//     zeromq_curve_req.mjs ENDPOINT SERVER_PUBLIC_Z85 CLIENT_KEY_SECRET REQUEST...
//
// CLIENT_KEY_SECRET is a NAME.key_secret certificate (czmq's format, as
// keygen.ts and zmq.auth write it), or "-" for a fresh key pair. Gives up
// with exit 1 when a reply takes over 10 seconds.
import { readFileSync } from "node:fs";
import { curveKeyPair, Request } from "zeromq";

const [endpoint, serverKey, secretFile, ...requests] = process.argv.slice(2);

// The two keys of a secret certificate: `public-key = "..."` and
// `secret-key = "..."`, 40 characters of Z85 each.
function certificate(file) {
  const text = readFileSync(file, "utf8");
  const key = (name) => {
    const match = new RegExp(`${name}\\s*=\\s*"(.{40})"`).exec(text);
    if (match === null) throw new Error(`${file}: no ${name}`);
    return match[1];
  };
  return { publicKey: key("public-key"), secretKey: key("secret-key") };
}

const own = secretFile === "-" ? curveKeyPair() : certificate(secretFile);
const socket = new Request({
  receiveTimeout: 10000,
  linger: 0,
  curveServerKey: serverKey,
  curvePublicKey: own.publicKey,
  curveSecretKey: own.secretKey,
});
socket.connect(endpoint);
try {
  for (const request of requests) {
    await socket.send(request);
    const [reply] = await socket.receive();
    console.log(reply.toString("utf8"));
  }
} catch (error) {
  console.error(`zeromq_curve_req: ${error.message}`);
  process.exitCode = 1;
} finally {
  socket.close();
}
