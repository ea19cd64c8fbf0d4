// A REQ client on JeroMQ 0.3.6 (Debian's libjeromq-java), a ZMTP/2.0 peer:
// connects to ENDPOINT, sends each REQUEST in turn and prints each reply on
// its own line. Without REQUEST arguments it sends each line of stdin
// instead, so a test can hold it connected. A reply that does not come
// within the timeout (10 s, or --timeout MS) ends it with exit status 1 and
// one line on stderr.
//
//     java -cp /usr/share/java/jeromq.jar ReqClient.java [--timeout MS] ENDPOINT [REQUEST...]
import java.io.BufferedReader;
import java.io.FileDescriptor;
import java.io.FileOutputStream;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.Iterator;
import org.zeromq.ZMQ;

public class ReqClient {
  public static void main(String[] args) {
    int timeoutMs = 10_000;
    int first = 0;
    if (args.length >= 2 && args[0].equals("--timeout")) {
      timeoutMs = Integer.parseInt(args[1]);
      first = 2;
    }
    if (args.length <= first) {
      System.err.println("usage: ReqClient [--timeout MS] ENDPOINT [REQUEST...]");
      System.exit(2);
    }
    PrintStream out = new PrintStream(
        new FileOutputStream(FileDescriptor.out), true, StandardCharsets.UTF_8);
    String endpoint = args[first];
    ZMQ.Context context = ZMQ.context(1);
    ZMQ.Socket socket = context.socket(ZMQ.REQ);
    socket.setLinger(0);
    socket.setReceiveTimeOut(timeoutMs);
    socket.setSendTimeOut(timeoutMs);
    socket.connect(endpoint);
    Iterator<String> requests = args.length > first + 1
        ? Arrays.asList(args).subList(first + 1, args.length).iterator()
        : new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8))
            .lines().iterator();
    while (requests.hasNext()) {
      String request = requests.next();
      if (!socket.send(request.getBytes(StandardCharsets.UTF_8), 0)) {
        System.err.println("ReqClient: could not send '" + request + "' to "
            + endpoint + " within " + timeoutMs + " ms");
        System.exit(1);
      }
      byte[] reply = socket.recv(0);
      if (reply == null) {
        System.err.println("ReqClient: no reply to '" + request + "' from "
            + endpoint + " within " + timeoutMs + " ms");
        // Do not wait for the context to end: the reply may never come.
        System.exit(1);
      }
      out.println(new String(reply, StandardCharsets.UTF_8));
    }
    socket.close();
    context.term();
  }
}
