package ember.lambda;

import java.io.BufferedInputStream;
import java.io.ByteArrayOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.HashMap;
import java.util.Map;

/**
 * The Lambda Runtime API (2018-06-01) at AWS_LAMBDA_RUNTIME_API: HTTP/1.1 on one keep-alive
 * socket, written by hand. java.net.http's HttpClient cost 150-300 ms of every cold start here
 * (its default SSLContext reads the CA store; its selector thread and futures load hundreds of
 * classes) against ~15 ms for a socket; its peer is the local Runtime API server, known.
 */
final class RuntimeClient {
    private static final String USER_AGENT = "aws-lambda-java/" + System.getProperty("java.version") + "-ember";

    /** One event from GET /invocation/next. */
    static final class Invocation {
        String requestId;
        long deadlineMs;
        String functionArn;
        String traceId;
        String clientContext;
        String cognitoIdentity;
        String tenantId;
        byte[] body;
    }

    private static final class Response {
        int status;
        final Map<String, String> headers = new HashMap<>(); // lower-case names
        byte[] body;
    }

    /** The connection closed before any byte of a response: safe to send again. */
    private static final class Dropped extends IOException {
        private static final long serialVersionUID = 1L;
    }

    private final String host;
    private final int port;
    private final String head;
    private Socket socket;
    private InputStream in;
    private OutputStream out;

    RuntimeClient(String address) {
        int colon = address.lastIndexOf(':');
        String h = address.substring(0, colon);
        if (h.startsWith("[") && h.endsWith("]")) {
            h = h.substring(1, h.length() - 1);
        }
        this.host = h.isEmpty() ? "127.0.0.1" : h;
        this.port = Integer.parseInt(address.substring(colon + 1));
        this.head = "Host: " + address + "\r\nUser-Agent: " + USER_AGENT + "\r\n";
    }

    Invocation next() throws IOException {
        Response response = request("GET", "/2018-06-01/runtime/invocation/next", null, null);
        if (response.status != 200) {
            throw new IOException("GET invocation/next answered " + response.status);
        }
        Invocation inv = new Invocation();
        inv.requestId = response.headers.get("lambda-runtime-aws-request-id");
        String deadline = response.headers.get("lambda-runtime-deadline-ms");
        inv.deadlineMs = deadline == null ? 0 : Long.parseLong(deadline.trim());
        inv.functionArn = response.headers.get("lambda-runtime-invoked-function-arn");
        inv.traceId = response.headers.get("lambda-runtime-trace-id");
        inv.clientContext = response.headers.get("lambda-runtime-client-context");
        inv.cognitoIdentity = response.headers.get("lambda-runtime-cognito-identity");
        inv.tenantId = response.headers.get("lambda-runtime-aws-tenant-id");
        inv.body = response.body;
        return inv;
    }

    void respond(String requestId, byte[] payload) throws IOException {
        post("/2018-06-01/runtime/invocation/" + requestId + "/response", payload, null);
    }

    void error(String requestId, String errorJson, String errorType) throws IOException {
        post("/2018-06-01/runtime/invocation/" + requestId + "/error", utf8(errorJson), errorType);
    }

    void initError(String errorJson, String errorType) throws IOException {
        post("/2018-06-01/runtime/init/error", utf8(errorJson), errorType);
    }

    /** SnapStart: Init is done; answers once the environment is restored (GET restore/next). */
    void restoreNext() throws IOException {
        Response response = request("GET", "/2018-06-01/runtime/restore/next", null, null);
        if (response.status != 200) {
            throw new IOException("GET restore/next answered " + response.status);
        }
    }

    void restoreError(String errorJson, String errorType) throws IOException {
        post("/2018-06-01/runtime/restore/error", utf8(errorJson), errorType);
    }

    private static byte[] utf8(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    private void post(String path, byte[] body, String errorType) throws IOException {
        String headers = "Content-Type: application/json\r\n";
        if (errorType != null && !errorType.isEmpty()) {
            headers += "Lambda-Runtime-Function-Error-Type: " + errorType.replaceAll("[\r\n]", " ") + "\r\n";
        }
        Response response = request("POST", path, headers, body);
        if (response.status != 202) {
            System.err.println("Runtime API " + path + " answered " + response.status + ": "
                    + new String(response.body, StandardCharsets.UTF_8));
        }
    }

    private Response request(String method, String path, String headers, byte[] body) throws IOException {
        // The server reads our stdout and stderr when a request arrives: flush them first.
        System.out.flush();
        System.err.flush();
        byte[] payload = body == null ? new byte[0] : body;
        byte[] start = (method + " " + path + " HTTP/1.1\r\n" + head + (headers == null ? "" : headers)
                + "Content-Length: " + payload.length + "\r\n\r\n").getBytes(StandardCharsets.UTF_8);
        for (int attempt = 1; ; attempt++) {
            if (socket == null) {
                connect();
            }
            try {
                out.write(start);
                out.write(payload);
                out.flush();
                return read();
            } catch (Dropped | java.net.SocketException e) {
                // Typically the server closed the idle keep-alive connection: once more.
                close();
                if (attempt == 2) {
                    throw new IOException("the Runtime API closed the connection", e);
                }
            }
        }
    }

    private void connect() throws IOException {
        Socket s = new Socket();
        s.setTcpNoDelay(true);
        s.connect(new InetSocketAddress(host, port));
        socket = s;
        in = new BufferedInputStream(s.getInputStream(), 65536);
        out = new java.io.BufferedOutputStream(s.getOutputStream(), 65536);
    }

    private void close() {
        if (socket != null) {
            try {
                socket.close();
            } catch (IOException ignored) {
                // closing a broken connection: nothing left to do
            }
        }
        socket = null;
    }

    private Response read() throws IOException {
        String status = line(true);
        Response response = new Response();
        String[] parts = status.split(" ", 3);
        if (parts.length < 2 || !parts[0].startsWith("HTTP/")) {
            throw new IOException("not an HTTP response: " + status);
        }
        response.status = Integer.parseInt(parts[1]);
        while (true) {
            String line = line(false);
            if (line.isEmpty()) {
                break;
            }
            int colon = line.indexOf(':');
            if (colon > 0) {
                response.headers.put(line.substring(0, colon).trim().toLowerCase(), line.substring(colon + 1).trim());
            }
        }
        String length = response.headers.get("content-length");
        if ("chunked".equalsIgnoreCase(response.headers.get("transfer-encoding"))) {
            response.body = chunked();
        } else if (length != null) {
            response.body = exactly(Integer.parseInt(length));
        } else {
            response.body = new byte[0];
        }
        if ("close".equalsIgnoreCase(response.headers.get("connection"))) {
            close();
        }
        return response;
    }

    /** One header line (ISO-8859-1, without its CRLF); `first`: EOF before it is a drop. */
    private String line(boolean first) throws IOException {
        StringBuilder sb = new StringBuilder(64);
        while (true) {
            int c = in.read();
            if (c < 0) {
                if (first && sb.length() == 0) {
                    throw new Dropped();
                }
                throw new EOFException("the Runtime API closed the connection mid-response");
            }
            if (c == '\n') {
                int n = sb.length();
                if (n > 0 && sb.charAt(n - 1) == '\r') {
                    sb.setLength(n - 1);
                }
                return sb.toString();
            }
            sb.append((char) c);
        }
    }

    private byte[] exactly(int n) throws IOException {
        byte[] buffer = new byte[n];
        int got = 0;
        while (got < n) {
            int r = in.read(buffer, got, n - got);
            if (r < 0) {
                throw new EOFException("the Runtime API closed the connection mid-body");
            }
            got += r;
        }
        return buffer;
    }

    private byte[] chunked() throws IOException {
        ByteArrayOutputStream body = new ByteArrayOutputStream();
        while (true) {
            String size = line(false);
            int semi = size.indexOf(';');
            int n = Integer.parseInt((semi < 0 ? size : size.substring(0, semi)).trim(), 16);
            if (n == 0) {
                while (!line(false).isEmpty()) {
                    // trailers: none the runtime needs
                }
                return body.toByteArray();
            }
            body.write(exactly(n));
            line(false);
        }
    }
}
