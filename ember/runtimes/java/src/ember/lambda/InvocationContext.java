package ember.lambda;

import com.amazonaws.services.lambda.runtime.Client;
import com.amazonaws.services.lambda.runtime.ClientContext;
import com.amazonaws.services.lambda.runtime.CognitoIdentity;
import com.amazonaws.services.lambda.runtime.Context;
import com.amazonaws.services.lambda.runtime.LambdaLogger;
import com.amazonaws.services.lambda.runtime.LambdaRuntime;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;

/** The Context a handler gets: the invocation's headers and the function's variables. */
final class InvocationContext implements Context {
    private static final String LOG_GROUP = System.getenv("AWS_LAMBDA_LOG_GROUP_NAME");
    private static final String LOG_STREAM = System.getenv("AWS_LAMBDA_LOG_STREAM_NAME");
    private static final String FUNCTION_NAME = System.getenv("AWS_LAMBDA_FUNCTION_NAME");
    private static final String FUNCTION_VERSION = System.getenv("AWS_LAMBDA_FUNCTION_VERSION");
    private static final int MEMORY = parseInt(System.getenv("AWS_LAMBDA_FUNCTION_MEMORY_SIZE"), 128);

    private final RuntimeClient.Invocation invocation;
    private final CognitoIdentity identity;
    private final ClientContext clientContext;

    InvocationContext(RuntimeClient.Invocation invocation) {
        this.invocation = invocation;
        this.identity = cognito(invocation.cognitoIdentity);
        this.clientContext = clientContext(invocation.clientContext);
    }

    private static int parseInt(String s, int fallback) {
        try {
            return Integer.parseInt(s);
        } catch (RuntimeException e) {
            return fallback;
        }
    }

    public String getAwsRequestId() {
        return invocation.requestId;
    }

    public String getLogGroupName() {
        return LOG_GROUP;
    }

    public String getLogStreamName() {
        return LOG_STREAM;
    }

    public String getFunctionName() {
        return FUNCTION_NAME;
    }

    public String getFunctionVersion() {
        return FUNCTION_VERSION;
    }

    public String getInvokedFunctionArn() {
        return invocation.functionArn;
    }

    public CognitoIdentity getIdentity() {
        return identity;
    }

    public ClientContext getClientContext() {
        return clientContext;
    }

    public int getRemainingTimeInMillis() {
        long left = invocation.deadlineMs - System.currentTimeMillis();
        return left > 0 ? (int) left : 0;
    }

    public int getMemoryLimitInMB() {
        return MEMORY;
    }

    public LambdaLogger getLogger() {
        return LambdaRuntime.getLogger();
    }

    public String getTenantId() {
        return invocation.tenantId;
    }

    public String getXrayTraceId() {
        return invocation.traceId;
    }

    private static Map<?, ?> object(String json) {
        if (json == null || json.isEmpty()) {
            return null;
        }
        try {
            Object parsed = Json.parse(json.getBytes(java.nio.charset.StandardCharsets.UTF_8));
            return parsed instanceof Map ? (Map<?, ?>) parsed : null;
        } catch (RuntimeException e) {
            return null;
        }
    }

    private static String text(Map<?, ?> map, String key) {
        Object v = map == null ? null : map.get(key);
        return v == null ? null : v.toString();
    }

    private static Map<String, String> strings(Object node) {
        if (!(node instanceof Map)) {
            return null;
        }
        Map<String, String> out = new LinkedHashMap<>();
        for (Map.Entry<?, ?> e : ((Map<?, ?>) node).entrySet()) {
            out.put(String.valueOf(e.getKey()), e.getValue() == null ? null : e.getValue().toString());
        }
        return Collections.unmodifiableMap(out);
    }

    /** The Lambda-Runtime-Cognito-Identity header: {"cognitoIdentityId", "cognitoIdentityPoolId"}. */
    private static CognitoIdentity cognito(String header) {
        Map<?, ?> map = object(header);
        if (map == null) {
            return null;
        }
        String id = text(map, "cognitoIdentityId");
        String pool = text(map, "cognitoIdentityPoolId");
        return new CognitoIdentity() {
            public String getIdentityId() {
                return id;
            }

            public String getIdentityPoolId() {
                return pool;
            }

            public String toString() {
                return "CognitoIdentity{identityId=" + id + ", identityPoolId=" + pool + "}";
            }
        };
    }

    /** The Lambda-Runtime-Client-Context header: {"client": {...}, "custom": {...}, "env": {...}}. */
    private static ClientContext clientContext(String header) {
        Map<?, ?> map = object(header);
        if (map == null) {
            return null;
        }
        Map<?, ?> c = map.get("client") instanceof Map ? (Map<?, ?>) map.get("client") : null;
        Client client = c == null ? null : new Client() {
            public String getInstallationId() {
                return text(c, "installation_id");
            }

            public String getAppTitle() {
                return text(c, "app_title");
            }

            public String getAppVersionName() {
                return text(c, "app_version_name");
            }

            public String getAppVersionCode() {
                return text(c, "app_version_code");
            }

            public String getAppPackageName() {
                return text(c, "app_package_name");
            }
        };
        Map<String, String> custom = strings(map.get("custom"));
        Map<String, String> env = strings(map.get("env"));
        return new ClientContext() {
            public Client getClient() {
                return client;
            }

            public Map<String, String> getCustom() {
                return custom;
            }

            public Map<String, String> getEnvironment() {
                return env;
            }
        };
    }
}
