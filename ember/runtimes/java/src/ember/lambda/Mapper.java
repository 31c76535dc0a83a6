package ember.lambda;

import java.lang.reflect.Array;
import java.lang.reflect.Constructor;
import java.lang.reflect.Field;
import java.lang.reflect.GenericArrayType;
import java.lang.reflect.Method;
import java.lang.reflect.Modifier;
import java.lang.reflect.ParameterizedType;
import java.lang.reflect.Type;
import java.lang.reflect.WildcardType;
import java.math.BigDecimal;
import java.math.BigInteger;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Plain JSON values (Json) to and from a handler's declared types, as Lambda's Java runtime maps
 * them: String, boxed primitives, Map/List/Set, arrays, enums, and POJOs through their setters
 * and getters or public fields. Like Lambda's serializer: unknown properties are ignored, null
 * properties are left out of the output, scalars are coerced (a JSON number into a String).
 */
final class Mapper {
    private Mapper() {
    }

    // class -> its properties (read and write accessors), learned once
    private static final Map<Class<?>, Bean> BEANS = new ConcurrentHashMap<>();

    // --- JSON -> Java ----------------------------------------------------------------------

    static Object fromPlain(Object node, Type type) throws ReflectiveOperationException {
        if (type instanceof ParameterizedType) {
            ParameterizedType p = (ParameterizedType) type;
            Class<?> raw = (Class<?>) p.getRawType();
            Type[] args = p.getActualTypeArguments();
            if (Map.class.isAssignableFrom(raw)) {
                return toMap(node, raw, args.length == 2 ? args[1] : Object.class);
            }
            if (Collection.class.isAssignableFrom(raw)) {
                return toCollection(node, raw, args.length == 1 ? args[0] : Object.class);
            }
            if (raw == Optional.class) {
                return Optional.ofNullable(fromPlain(node, args[0]));
            }
            return fromPlain(node, raw);
        }
        if (type instanceof WildcardType) {
            Type[] upper = ((WildcardType) type).getUpperBounds();
            return fromPlain(node, upper.length > 0 ? upper[0] : Object.class);
        }
        if (type instanceof GenericArrayType) {
            Type item = ((GenericArrayType) type).getGenericComponentType();
            List<?> list = asList(node);
            Class<?> itemClass = rawClass(item);
            Object array = Array.newInstance(itemClass, list.size());
            for (int i = 0; i < list.size(); i++) {
                Array.set(array, i, fromPlain(list.get(i), item));
            }
            return array;
        }
        if (!(type instanceof Class)) {
            return node; // a type variable: the plain value
        }
        Class<?> cls = (Class<?>) type;
        if (cls.isPrimitive()) {
            if (node == null) {
                return defaultPrimitive(cls);
            }
            cls = box(cls);
        }
        if (node == null) {
            return null;
        }
        if (cls == Object.class) {
            return node;
        }
        if (cls == String.class) {
            if (node instanceof Map || node instanceof List) {
                throw new IllegalArgumentException(
                        "Cannot deserialize a JSON " + (node instanceof Map ? "object" : "array")
                                + " into java.lang.String");
            }
            return node.toString();
        }
        if (Number.class.isAssignableFrom(cls) || cls == Boolean.class || cls == Character.class) {
            return scalar(node, cls);
        }
        if (cls.isEnum()) {
            for (Object constant : cls.getEnumConstants()) {
                if (((Enum<?>) constant).name().equals(node.toString())) {
                    return constant;
                }
            }
            throw new IllegalArgumentException("Unknown value '" + node + "' for enum " + cls.getName());
        }
        if (cls.isArray()) {
            List<?> list = asList(node);
            Class<?> item = cls.getComponentType();
            if (item == byte.class && node instanceof String) {
                return java.util.Base64.getDecoder().decode((String) node);
            }
            Object array = Array.newInstance(item, list.size());
            for (int i = 0; i < list.size(); i++) {
                Array.set(array, i, fromPlain(list.get(i), item));
            }
            return array;
        }
        if (Map.class.isAssignableFrom(cls)) {
            return toMap(node, cls, Object.class);
        }
        if (Collection.class.isAssignableFrom(cls)) {
            return toCollection(node, cls, Object.class);
        }
        if (!(node instanceof Map)) {
            throw new IllegalArgumentException(
                    "Cannot deserialize a JSON " + kind(node) + " into " + cls.getName());
        }
        return toBean((Map<?, ?>) node, cls);
    }

    private static String kind(Object node) {
        if (node instanceof List) {
            return "array";
        }
        if (node instanceof String) {
            return "string";
        }
        return node instanceof Boolean ? "boolean" : "number";
    }

    private static List<?> asList(Object node) {
        if (node instanceof List) {
            return (List<?>) node;
        }
        List<Object> single = new ArrayList<>(); // Lambda accepts a single value as an array
        single.add(node);
        return single;
    }

    private static Object toMap(Object node, Class<?> raw, Type valueType) throws ReflectiveOperationException {
        if (!(node instanceof Map)) {
            throw new IllegalArgumentException("Cannot deserialize a JSON " + kind(node) + " into a Map");
        }
        Map<Object, Object> map = raw.isInterface() || Modifier.isAbstract(raw.getModifiers())
                ? (java.util.SortedMap.class.isAssignableFrom(raw) ? new TreeMap<>() : new LinkedHashMap<>())
                : newMap(raw);
        for (Map.Entry<?, ?> entry : ((Map<?, ?>) node).entrySet()) {
            map.put(entry.getKey(), fromPlain(entry.getValue(), valueType));
        }
        return map;
    }

    @SuppressWarnings("unchecked")
    private static Map<Object, Object> newMap(Class<?> raw) throws ReflectiveOperationException {
        return (Map<Object, Object>) raw.getDeclaredConstructor().newInstance();
    }

    @SuppressWarnings("unchecked")
    private static Object toCollection(Object node, Class<?> raw, Type itemType) throws ReflectiveOperationException {
        Collection<Object> out;
        if (!raw.isInterface() && !Modifier.isAbstract(raw.getModifiers())) {
            out = (Collection<Object>) raw.getDeclaredConstructor().newInstance();
        } else if (Set.class.isAssignableFrom(raw)) {
            out = new LinkedHashSet<>();
        } else {
            out = new ArrayList<>();
        }
        for (Object item : asList(node)) {
            out.add(fromPlain(item, itemType));
        }
        return out;
    }

    private static Object scalar(Object node, Class<?> cls) {
        if (node instanceof Map || node instanceof List) {
            throw new IllegalArgumentException("Cannot deserialize a JSON " + kind(node) + " into " + cls.getName());
        }
        if (cls == Boolean.class) {
            return node instanceof Boolean ? node : Boolean.valueOf(node.toString());
        }
        if (cls == Character.class) {
            String s = node.toString();
            return s.isEmpty() ? null : s.charAt(0);
        }
        if (node instanceof Boolean) {
            throw new IllegalArgumentException("Cannot deserialize a JSON boolean into " + cls.getName());
        }
        String s = node.toString();
        if (s.isEmpty()) {
            return null;
        }
        BigDecimal n = new BigDecimal(s);
        if (cls == Integer.class) {
            return n.intValue();
        }
        if (cls == Long.class) {
            return n.longValue();
        }
        if (cls == Double.class || cls == Number.class) {
            return n.doubleValue();
        }
        if (cls == Float.class) {
            return n.floatValue();
        }
        if (cls == Short.class) {
            return n.shortValue();
        }
        if (cls == Byte.class) {
            return n.byteValue();
        }
        if (cls == BigInteger.class) {
            return n.toBigInteger();
        }
        return n;
    }

    private static Object defaultPrimitive(Class<?> cls) {
        if (cls == boolean.class) {
            return false;
        }
        if (cls == char.class) {
            return '\0';
        }
        return scalar(0, box(cls));
    }

    static Class<?> box(Class<?> cls) {
        if (cls == int.class) return Integer.class;
        if (cls == long.class) return Long.class;
        if (cls == double.class) return Double.class;
        if (cls == float.class) return Float.class;
        if (cls == boolean.class) return Boolean.class;
        if (cls == short.class) return Short.class;
        if (cls == byte.class) return Byte.class;
        if (cls == char.class) return Character.class;
        return cls;
    }

    static Class<?> rawClass(Type type) {
        if (type instanceof Class) {
            return (Class<?>) type;
        }
        if (type instanceof ParameterizedType) {
            return (Class<?>) ((ParameterizedType) type).getRawType();
        }
        if (type instanceof GenericArrayType) {
            return Array.newInstance(rawClass(((GenericArrayType) type).getGenericComponentType()), 0).getClass();
        }
        return Object.class;
    }

    private static Object toBean(Map<?, ?> node, Class<?> cls) throws ReflectiveOperationException {
        Record record = Record.of(cls);
        if (record != null) {
            Object[] args = new Object[record.names.length];
            for (int i = 0; i < args.length; i++) {
                args[i] = fromPlain(node.get(record.names[i]), record.types[i]);
            }
            return record.constructor.newInstance(args);
        }
        Bean bean = bean(cls);
        if (bean.constructor == null) {
            throw new IllegalArgumentException(
                    "Cannot construct instance of " + cls.getName() + " (no public zero-argument constructor)");
        }
        Object instance = bean.constructor.newInstance();
        for (Map.Entry<?, ?> entry : node.entrySet()) {
            Property property = bean.byName.get(String.valueOf(entry.getKey()));
            if (property == null) {
                property = bean.byLowerName.get(String.valueOf(entry.getKey()).toLowerCase());
            }
            if (property == null || (property.setter == null && property.field == null)) {
                continue; // unknown properties are ignored
            }
            if (property.setter != null) {
                Type t = property.setter.getGenericParameterTypes()[0];
                property.setter.invoke(instance, fromPlain(entry.getValue(), t));
            } else {
                property.field.set(instance, fromPlain(entry.getValue(), property.field.getGenericType()));
            }
        }
        return instance;
    }

    // --- Java -> JSON ----------------------------------------------------------------------

    static Object toPlain(Object value) throws ReflectiveOperationException {
        return toPlain(value, 0);
    }

    private static Object toPlain(Object value, int depth) throws ReflectiveOperationException {
        if (depth > 1000) {
            throw new IllegalArgumentException("Infinite recursion (the object refers to itself)");
        }
        if (value == null || value instanceof String || value instanceof Number || value instanceof Boolean) {
            return value;
        }
        if (value instanceof Character || value instanceof Enum) {
            return value instanceof Enum ? ((Enum<?>) value).name() : value.toString();
        }
        if (value instanceof Optional) {
            return toPlain(((Optional<?>) value).orElse(null), depth + 1);
        }
        if (value instanceof Map) {
            Map<String, Object> out = new LinkedHashMap<>();
            for (Map.Entry<?, ?> entry : ((Map<?, ?>) value).entrySet()) {
                out.put(String.valueOf(entry.getKey()), toPlain(entry.getValue(), depth + 1));
            }
            return out;
        }
        if (value instanceof Collection) {
            List<Object> out = new ArrayList<>();
            for (Object item : (Collection<?>) value) {
                out.add(toPlain(item, depth + 1));
            }
            return out;
        }
        if (value.getClass().isArray()) {
            if (value instanceof byte[]) {
                return java.util.Base64.getEncoder().encodeToString((byte[]) value);
            }
            List<Object> out = new ArrayList<>();
            for (int i = 0; i < Array.getLength(value); i++) {
                out.add(toPlain(Array.get(value, i), depth + 1));
            }
            return out;
        }
        Record record = Record.of(value.getClass());
        if (record != null) {
            Map<String, Object> out = new LinkedHashMap<>();
            for (int i = 0; i < record.names.length; i++) {
                Object v = record.accessors[i].invoke(value);
                if (v != null) {
                    out.put(record.names[i], toPlain(v, depth + 1));
                }
            }
            return out;
        }
        Bean bean = bean(value.getClass());
        Map<String, Object> out = new LinkedHashMap<>();
        for (Property property : bean.byName.values()) {
            Object v;
            if (property.getter != null) {
                v = property.getter.invoke(value);
            } else if (property.field != null) {
                v = property.field.get(value);
            } else {
                continue;
            }
            if (v != null) { // Lambda's serializer leaves nulls out
                out.put(property.name, toPlain(v, depth + 1));
            }
        }
        return out;
    }

    // --- records (Java 16+), read through reflection: the runtime is compiled for Java 11 ------

    private static final class Record {
        // class -> its components, or NONE for a class that is not a record
        private static final Map<Class<?>, Record> KNOWN = new ConcurrentHashMap<>();
        private static final Record NONE = new Record();
        private static final Method IS_RECORD = method(Class.class, "isRecord");
        private static final Method COMPONENTS = method(Class.class, "getRecordComponents");

        String[] names;
        Type[] types;
        Method[] accessors;
        Constructor<?> constructor;

        private static Method method(Class<?> cls, String name) {
            try {
                return cls.getMethod(name);
            } catch (NoSuchMethodException e) {
                return null; // Java 11-15: no records
            }
        }

        static Record of(Class<?> cls) throws ReflectiveOperationException {
            if (IS_RECORD == null) {
                return null;
            }
            Record known = KNOWN.get(cls);
            if (known == null) {
                known = NONE;
                if ((Boolean) IS_RECORD.invoke(cls)) {
                    Object[] components = (Object[]) COMPONENTS.invoke(cls);
                    known = new Record();
                    known.names = new String[components.length];
                    known.types = new Type[components.length];
                    known.accessors = new Method[components.length];
                    Class<?>[] raw = new Class<?>[components.length];
                    for (int i = 0; i < components.length; i++) {
                        Class<?> c = components[i].getClass();
                        known.names[i] = (String) c.getMethod("getName").invoke(components[i]);
                        known.types[i] = (Type) c.getMethod("getGenericType").invoke(components[i]);
                        raw[i] = (Class<?>) c.getMethod("getType").invoke(components[i]);
                        known.accessors[i] = (Method) c.getMethod("getAccessor").invoke(components[i]);
                        known.accessors[i].setAccessible(true);
                    }
                    known.constructor = cls.getDeclaredConstructor(raw);
                    known.constructor.setAccessible(true);
                }
                KNOWN.put(cls, known);
            }
            return known == NONE ? null : known;
        }
    }

    // --- bean introspection ----------------------------------------------------------------

    private static final class Property {
        final String name;
        Method getter;
        Method setter;
        Field field;

        Property(String name) {
            this.name = name;
        }
    }

    private static final class Bean {
        Constructor<?> constructor;
        final Map<String, Property> byName = new LinkedHashMap<>();
        final Map<String, Property> byLowerName = new LinkedHashMap<>();
    }

    private static Bean bean(Class<?> cls) {
        Bean known = BEANS.get(cls);
        if (known != null) {
            return known;
        }
        Bean bean = new Bean();
        try {
            bean.constructor = cls.getConstructor();
        } catch (NoSuchMethodException e) {
            bean.constructor = null;
        }
        if (!Modifier.isPublic(cls.getModifiers())) {
            if (bean.constructor != null) {
                bean.constructor.setAccessible(true);
            }
        }
        for (Field field : cls.getFields()) {
            if (!Modifier.isStatic(field.getModifiers())) {
                if (!Modifier.isPublic(cls.getModifiers())) {
                    field.setAccessible(true); // a public field of a package-private class
                }
                property(bean, field.getName()).field = field;
            }
        }
        Set<String> seen = new HashSet<>();
        for (Method m : cls.getMethods()) {
            if (Modifier.isStatic(m.getModifiers()) || m.getDeclaringClass() == Object.class || m.isBridge()) {
                continue;
            }
            String name = m.getName();
            int params = m.getParameterCount();
            if (params == 0 && name.startsWith("get") && name.length() > 3 && m.getReturnType() != void.class) {
                property(bean, mangle(name.substring(3))).getter = access(m, cls);
            } else if (params == 0 && name.startsWith("is") && name.length() > 2
                    && (m.getReturnType() == boolean.class || m.getReturnType() == Boolean.class)) {
                Property p = property(bean, mangle(name.substring(2)));
                if (p.getter == null) {
                    p.getter = access(m, cls);
                }
            } else if (params == 1 && name.startsWith("set") && name.length() > 3 && seen.add(name)) {
                property(bean, mangle(name.substring(3))).setter = access(m, cls);
            }
        }
        BEANS.put(cls, bean);
        return bean;
    }

    private static Method access(Method m, Class<?> cls) {
        if (!Modifier.isPublic(cls.getModifiers())) {
            m.setAccessible(true); // a public method of a package-private class
        }
        return m;
    }

    private static Property property(Bean bean, String name) {
        Property p = bean.byName.get(name);
        if (p == null) {
            p = new Property(name);
            bean.byName.put(name, p);
            bean.byLowerName.put(name.toLowerCase(), p);
        }
        return p;
    }

    /** A getter's property name as Jackson derives it: getName -> name, getURL -> url. */
    private static String mangle(String base) {
        StringBuilder out = new StringBuilder(base.length());
        int i = 0;
        while (i < base.length() && Character.isUpperCase(base.charAt(i))) {
            out.append(Character.toLowerCase(base.charAt(i)));
            i++;
        }
        out.append(base, i, base.length());
        return out.toString();
    }
}
