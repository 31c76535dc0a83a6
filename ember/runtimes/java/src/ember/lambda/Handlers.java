package ember.lambda;

import com.amazonaws.services.lambda.runtime.Context;
import com.amazonaws.services.lambda.runtime.RequestHandler;
import com.amazonaws.services.lambda.runtime.RequestStreamHandler;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.InputStream;
import java.io.OutputStream;
import java.lang.reflect.Constructor;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.lang.reflect.Modifier;
import java.lang.reflect.ParameterizedType;
import java.lang.reflect.Type;
import java.lang.reflect.TypeVariable;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * The function's handler, found as Lambda's Java runtime finds it: `package.Class::method` (the
 * overloads it accepts, longest signature first, a trailing Context counting one more) or
 * `package.Class` implementing RequestHandler (its input type read from the generic interface)
 * or RequestStreamHandler.
 */
final class Handlers {
    private Handlers() {
    }

    /** One invocation: the event's bytes in, the response's bytes out. */
    interface Call {
        byte[] call(byte[] event, Context context) throws Throwable;
    }

    /** A handler that could not be loaded: every invocation reports `fault`. */
    static Call failing(UserFault fault) {
        return new Call() {
            public byte[] call(byte[] event, Context context) throws Throwable {
                throw fault;
            }
        };
    }

    /**
     * The handler named by `handler`; a fault found while loading is thrown when Lambda reports
     * it at init (fatal: the constructor or static initialiser threw), else returned as a
     * handler that reports it on each invocation.
     */
    static Call load(String handler, ClassLoader loader) {
        int colon = handler.lastIndexOf("::");
        String className = colon < 0 ? handler : handler.substring(0, colon);
        String methodName = colon < 0 ? null : handler.substring(colon + 2);
        if (className.isEmpty() || (methodName != null && methodName.isEmpty())) {
            return failing(UserFault.of("Invalid handler: `" + handler + "'"));
        }
        Class<?> cls;
        try {
            cls = Class.forName(className, true, loader);
        } catch (ClassNotFoundException e) {
            return failing(UserFault.classNotFound(e, className));
        } catch (NoClassDefFoundError e) {
            return failing(UserFault.initError(e, className));
        } catch (Throwable t) {
            throw UserFault.initError(t, className);
        }
        Call call = methodName == null ? loadClassHandler(cls) : loadMethodHandler(cls, methodName);
        return call;
    }

    private static Call loadClassHandler(Class<?> cls) {
        try {
            if (RequestStreamHandler.class.isAssignableFrom(cls)) {
                RequestStreamHandler h = (RequestStreamHandler) newInstance(cls);
                return new Call() {
                    public byte[] call(byte[] event, Context context) throws Throwable {
                        ByteArrayOutputStream out = new ByteArrayOutputStream(1024);
                        h.handleRequest(new ByteArrayInputStream(event), out, context);
                        return out.toByteArray();
                    }
                };
            }
            if (RequestHandler.class.isAssignableFrom(cls)) {
                Type[] types = interfaceParameters(cls, RequestHandler.class);
                if (types == null) {
                    return failing(UserFault.of("Class " + cls.getName()
                            + " does not implement RequestHandler with concrete type parameters"));
                }
                for (Type t : types) {
                    if (t instanceof TypeVariable && !bounded((TypeVariable<?>) t)) {
                        return failing(UserFault.of("Class " + cls.getName()
                                + " does not implement RequestHandler with concrete type parameters: parameter "
                                + t + " has no upper bound."));
                    }
                }
                @SuppressWarnings("unchecked")
                RequestHandler<Object, Object> h = (RequestHandler<Object, Object>) newInstance(cls);
                Type input = types[0];
                Type output = types[1];
                return new Call() {
                    public byte[] call(byte[] event, Context context) throws Throwable {
                        Object in = parseInput(event, input);
                        Object out = h.handleRequest(in, context);
                        return isVoid(output) ? NULL : serialize(out);
                    }
                };
            }
        } catch (UserFault f) {
            if (f.fatal) {
                throw f;
            }
            return failing(f);
        } catch (Throwable t) {
            return failing(UserFault.of(t, false));
        }
        return failing(UserFault.of("Class does not implement an appropriate handler interface: " + cls.getName()));
    }

    private static boolean bounded(TypeVariable<?> t) {
        for (Type bound : t.getBounds()) {
            if (!Object.class.equals(bound)) {
                return true;
            }
        }
        return false;
    }

    private static final byte[] NULL = "null".getBytes(StandardCharsets.US_ASCII);

    private static boolean isVoid(Type type) {
        return type == void.class || type == Void.class;
    }

    private static Object parseInput(byte[] event, Type type) {
        try {
            if (event.length == 0) {
                return Mapper.fromPlain(null, type);
            }
            return Mapper.fromPlain(Json.parse(event), type);
        } catch (Throwable t) {
            throw new RuntimeException("An error occurred during JSON parsing", UserFault.filterStackTrace(t));
        }
    }

    private static byte[] serialize(Object value) {
        try {
            return Json.write(Mapper.toPlain(value)).getBytes(StandardCharsets.UTF_8);
        } catch (Throwable t) {
            throw new RuntimeException("An error occurred during JSON serialization of response", t);
        }
    }

    private static Object newInstance(Class<?> cls) throws Exception {
        Constructor<?> constructor;
        try {
            constructor = cls.getConstructor();
        } catch (NoSuchMethodException e) {
            if (cls.getEnclosingClass() != null && !Modifier.isStatic(cls.getModifiers())) {
                throw new Exception("Class " + cls.getName()
                        + " cannot be instantiated because it is a non-static inner class");
            }
            throw new Exception("Class " + cls.getName() + " has no public zero-argument constructor", e);
        }
        try {
            return constructor.newInstance();
        } catch (InvocationTargetException e) {
            // The constructor threw: Lambda reports it as the init error.
            throw UserFault.of(e.getCause() == null ? e : e.getCause(), true);
        }
    }

    /** The type arguments `cls` gives `iface`, searched breadth first through its supertypes. */
    static Type[] interfaceParameters(Class<?> cls, Class<?> iface) {
        List<Type> queue = new ArrayList<>();
        queue.add(cls);
        // type variable -> what a subclass bound it to
        Map<TypeVariable<?>, Type> bindings = new HashMap<>();
        while (!queue.isEmpty()) {
            Type current = queue.remove(0);
            Class<?> raw = Mapper.rawClass(current);
            if (current instanceof ParameterizedType) {
                Type[] actual = ((ParameterizedType) current).getActualTypeArguments();
                TypeVariable<?>[] params = raw.getTypeParameters();
                for (int i = 0; i < params.length && i < actual.length; i++) {
                    bindings.put(params[i], resolve(actual[i], bindings));
                }
                if (raw == iface) {
                    Type[] out = new Type[actual.length];
                    for (int i = 0; i < actual.length; i++) {
                        out[i] = resolve(actual[i], bindings);
                    }
                    return out;
                }
            } else if (raw == iface) {
                return null; // the raw interface: no concrete type parameters
            }
            queue.addAll(Arrays.asList(raw.getGenericInterfaces()));
            if (raw.getGenericSuperclass() != null) {
                queue.add(raw.getGenericSuperclass());
            }
        }
        return null;
    }

    private static Type resolve(Type t, Map<TypeVariable<?>, Type> bindings) {
        while (t instanceof TypeVariable && bindings.containsKey(t)) {
            Type next = bindings.get(t);
            if (next == t) {
                break;
            }
            t = next;
        }
        return t;
    }

    // --- Class::method ----------------------------------------------------------------------

    private static boolean isContext(Type t) {
        return Context.class.equals(t);
    }

    private static int weight(Method m) {
        Class<?>[] p = m.getParameterTypes();
        return p.length + (p.length > 0 && isContext(p[p.length - 1]) ? 1 : 0);
    }

    private static Call loadMethodHandler(Class<?> cls, String methodName) {
        Method[] all;
        try {
            all = cls.getMethods();
        } catch (NoClassDefFoundError e) {
            return failing(new UserFault("Error loading method " + methodName + " on class " + cls.getName(),
                    e.getClass().getName(), UserFault.trace(e), false));
        }
        List<Method> named = new ArrayList<>();
        for (Method m : all) {
            if (m.getName().equals(methodName)) {
                named.add(m);
            }
        }
        // Non-bridge first, then longer signatures (a trailing Context counting one more).
        named.sort(new java.util.Comparator<Method>() {
            public int compare(Method a, Method b) {
                if (a.isBridge() != b.isBridge()) {
                    return a.isBridge() ? 1 : -1;
                }
                return Integer.compare(weight(b), weight(a));
            }
        });
        for (Method m : named) {
            Call call;
            try {
                call = fromOverload(cls, m);
            } catch (UserFault f) {
                if (f.fatal) {
                    throw f;
                }
                return failing(f);
            } catch (Throwable t) {
                return failing(UserFault.of(t, false));
            }
            if (call != null) {
                return call;
            }
        }
        return failing(UserFault.of("No public method named " + methodName
                + " with appropriate method signature found on class " + cls.getName()));
    }

    /** The handler for one overload, or null when Lambda ignores its signature. */
    private static Call fromOverload(Class<?> cls, Method m) throws Exception {
        Type[] p = m.getGenericParameterTypes();
        Type r = m.getGenericReturnType();
        boolean in = false;
        boolean out = false;
        boolean ctx = false;
        Type pojo = null;
        if (p.length == 0) {
            return pojoMethod(cls, m, null, r, false);
        } else if (p.length == 1) {
            if (InputStream.class.equals(p[0])) {
                in = true;
            } else if (OutputStream.class.equals(p[0])) {
                out = true;
            } else if (isContext(p[0])) {
                return pojoMethod(cls, m, null, r, true);
            } else {
                return pojoMethod(cls, m, p[0], r, false);
            }
        } else if (p.length == 2) {
            if (OutputStream.class.equals(p[0]) && isContext(p[1])) {
                out = true;
                ctx = true;
            } else if (InputStream.class.equals(p[0]) && OutputStream.class.equals(p[1])) {
                in = true;
                out = true;
            } else if (InputStream.class.equals(p[0]) && isContext(p[1])) {
                in = true;
                ctx = true;
            } else if (!isContext(p[0]) && !OutputStream.class.equals(p[0]) && !InputStream.class.equals(p[0])
                    && isContext(p[1])) {
                pojo = p[0];
                return pojoMethod(cls, m, pojo, r, true);
            } else {
                return null;
            }
        } else if (p.length == 3) {
            if (InputStream.class.equals(p[0]) && OutputStream.class.equals(p[1]) && isContext(p[2])) {
                in = true;
                out = true;
                ctx = true;
            } else {
                return null;
            }
        } else {
            return null;
        }
        return streamMethod(cls, m, in, out, ctx);
    }

    private static Object target(Class<?> cls, Method m) throws Exception {
        return Modifier.isStatic(m.getModifiers()) ? null : newInstance(cls);
    }

    private static Object invoke(Method m, Object target, Object[] args) throws Throwable {
        try {
            return m.invoke(target, args);
        } catch (InvocationTargetException e) {
            throw e.getCause() == null ? e : e.getCause();
        }
    }

    private static Call pojoMethod(Class<?> cls, Method m, Type input, Type output, boolean ctx) throws Exception {
        Object target = target(cls, m);
        if (!Modifier.isPublic(cls.getModifiers())) {
            m.setAccessible(true);
        }
        int size = (input != null ? 1 : 0) + (ctx ? 1 : 0);
        return new Call() {
            public byte[] call(byte[] event, Context context) throws Throwable {
                Object[] args = new Object[size];
                int i = 0;
                if (input != null) {
                    args[i++] = parseInput(event, input);
                }
                if (ctx) {
                    args[i] = context;
                }
                Object result = invoke(m, target, args);
                return isVoid(output) ? NULL : serialize(result);
            }
        };
    }

    private static Call streamMethod(Class<?> cls, Method m, boolean in, boolean out, boolean ctx) throws Exception {
        Object target = target(cls, m);
        if (!Modifier.isPublic(cls.getModifiers())) {
            m.setAccessible(true);
        }
        int size = (in ? 1 : 0) + (out ? 1 : 0) + (ctx ? 1 : 0);
        return new Call() {
            public byte[] call(byte[] event, Context context) throws Throwable {
                ByteArrayOutputStream output = new ByteArrayOutputStream(1024);
                Object[] args = new Object[size];
                int i = 0;
                if (in) {
                    args[i++] = new ByteArrayInputStream(event);
                }
                if (out) {
                    args[i++] = output;
                }
                if (ctx) {
                    args[i] = context;
                }
                invoke(m, target, args);
                return output.toByteArray();
            }
        };
    }
}
