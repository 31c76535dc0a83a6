package ember.lambda;

import com.amazonaws.services.lambda.runtime.Context;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The handler of the run that records the class data sharing archive (`make`): it goes through
 * the classes every invocation uses (JSON both ways, the mapper, the context, the logger).
 */
public final class Warmup {
    public static final class Item {
        private String name;
        private List<Integer> values;

        public String getName() {
            return name;
        }

        public void setName(String name) {
            this.name = name;
        }

        public List<Integer> getValues() {
            return values;
        }

        public void setValues(List<Integer> values) {
            this.values = values;
        }
    }

    public Map<String, Object> handle(Item item, Context context) {
        context.getLogger().log("warm-up " + item.getName() + "\n");
        Map<String, Object> out = new LinkedHashMap<>();
        out.put("item", item);
        out.put("requestId", context.getAwsRequestId());
        out.put("remaining", context.getRemainingTimeInMillis());
        return out;
    }
}
