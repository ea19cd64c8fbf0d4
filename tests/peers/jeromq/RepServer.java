// A multiply server on JeroMQ 0.3.6 (Debian's libjeromq-java), a ZMTP/2.0
// peer: a REP bound on tcp://127.0.0.1:PORT answering each request with the
// number times MULTIPLIER, formatted as Python's str(float), and logging as
// the tutorial's multiply_server.py does. JeroMQ 0.3.6 cannot say which port
// it bound for port 0, so PORT 0 picks one with bindToRandomPort; the port
// in the first line is the one bound either way.
//
//     java -cp /usr/share/java/jeromq.jar RepServer.java MULTIPLIER PORT
import java.io.FileDescriptor;
import java.io.FileOutputStream;
import java.io.PrintStream;
import java.math.BigDecimal;
import java.nio.charset.StandardCharsets;
import java.util.regex.Pattern;
import org.zeromq.ZMQ;

public class RepServer {
  public static void main(String[] args) {
    if (args.length != 2) {
      System.err.println("usage: RepServer MULTIPLIER PORT");
      System.exit(2);
    }
    double multiplier = Double.parseDouble(args[0]);
    int port = Integer.parseInt(args[1]);
    PrintStream out = new PrintStream(
        new FileOutputStream(FileDescriptor.out), true, StandardCharsets.UTF_8);
    ZMQ.Context context = ZMQ.context(1);
    ZMQ.Socket socket = context.socket(ZMQ.REP);
    socket.setLinger(0);
    if (port == 0) {
      port = socket.bindToRandomPort("tcp://127.0.0.1");
    } else {
      socket.bind("tcp://127.0.0.1:" + port);
    }
    out.println("Waiting for clients on port '" + port + "' on host '127.0.0.1'.");
    while (true) {
      byte[] request = socket.recv(0);
      if (request == null) break;
      String line = new String(request, StandardCharsets.UTF_8);
      Double number = pythonFloat(line);
      String reply = number == null ? "not a 'float'" : pythonStr(number * multiplier);
      out.println("received: " + line + " sending: " + reply);
      socket.send(reply.getBytes(StandardCharsets.UTF_8), 0);
    }
  }

  private static final Pattern DIGITS = Pattern.compile("[0-9](_?[0-9])*");
  private static final Pattern DECIMAL = Pattern.compile(
      "[+-]?(" + DIGITS + "(\\.(" + DIGITS + ")?)?|\\." + DIGITS + ")([eE][+-]?" + DIGITS + ")?");
  private static final Pattern SPECIAL = Pattern.compile(
      "[+-]?(inf|infinity|nan)", Pattern.CASE_INSENSITIVE);

  /** Python's float(text): null where Python raises ValueError. */
  static Double pythonFloat(String text) {
    // Python first turns Unicode decimal digits and spaces into ASCII ones.
    StringBuilder ascii = new StringBuilder();
    for (int i = 0; i < text.length(); ) {
      int c = text.codePointAt(i);
      i += Character.charCount(c);
      if (Character.getType(c) == Character.DECIMAL_DIGIT_NUMBER) {
        ascii.append((char) ('0' + Character.digit(c, 10)));
      } else if (Character.isWhitespace(c) || Character.isSpaceChar(c)) {
        ascii.append(' ');
      } else {
        ascii.append(Character.toChars(c));
      }
    }
    String s = ascii.toString().strip();
    if (SPECIAL.matcher(s).matches()) {
      boolean negative = s.startsWith("-");
      if (s.toLowerCase().endsWith("nan")) return Double.NaN;
      return negative ? Double.NEGATIVE_INFINITY : Double.POSITIVE_INFINITY;
    }
    if (!DECIMAL.matcher(s).matches()) return null;
    return Double.parseDouble(s.replace("_", ""));
  }

  /** Python's str(x) for a float: repr, shortest round-trip digits. */
  static String pythonStr(double x) {
    if (Double.isNaN(x)) return "nan";
    if (Double.isInfinite(x)) return x > 0 ? "inf" : "-inf";
    if (x == 0) return (1 / x < 0) ? "-0.0" : "0.0";
    // Double.toString gives round-trip digits; BigDecimal splits them.
    BigDecimal value = new BigDecimal(Double.toString(Math.abs(x))).stripTrailingZeros();
    String digits = value.unscaledValue().toString();
    int exponent = digits.length() - 1 - value.scale(); // x = d.ddd * 10^exponent
    String sign = x < 0 ? "-" : "";
    if (exponent >= -4 && exponent < 16) {
      return sign + value.toPlainString() + (value.scale() <= 0 ? ".0" : "");
    }
    String mantissa = digits.length() == 1
        ? digits
        : digits.charAt(0) + "." + digits.substring(1);
    String e = String.format("%02d", Math.abs(exponent));
    return sign + mantissa + "e" + (exponent < 0 ? "-" : "+") + e;
  }
}
