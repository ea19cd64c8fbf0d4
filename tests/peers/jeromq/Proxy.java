// A ROUTER/DEALER queue on JeroMQ 0.3.6 (Debian's libjeromq-java), a ZMTP/2.0
// peer: clients connect to the ROUTER frontend, servers to the DEALER
// backend, and ZMQ.proxy joins them. Prints one line once both are bound.
//
//     java -cp /usr/share/java/jeromq.jar Proxy.java FRONTEND_PORT BACKEND_PORT
import org.zeromq.ZMQ;

public class Proxy {
  public static void main(String[] args) {
    if (args.length != 2) {
      System.err.println("usage: Proxy FRONTEND_PORT BACKEND_PORT");
      System.exit(2);
    }
    String frontendEndpoint = "tcp://127.0.0.1:" + Integer.parseInt(args[0]);
    String backendEndpoint = "tcp://127.0.0.1:" + Integer.parseInt(args[1]);
    ZMQ.Context context = ZMQ.context(1);
    ZMQ.Socket frontend = context.socket(ZMQ.ROUTER);
    ZMQ.Socket backend = context.socket(ZMQ.DEALER);
    frontend.setLinger(0);
    backend.setLinger(0);
    frontend.bind(frontendEndpoint);
    backend.bind(backendEndpoint);
    System.out.println("proxy: frontend " + frontendEndpoint + " backend " + backendEndpoint);
    System.out.flush();
    ZMQ.proxy(frontend, backend, null);
  }
}
