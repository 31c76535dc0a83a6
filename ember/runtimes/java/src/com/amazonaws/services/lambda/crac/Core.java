package com.amazonaws.services.lambda.crac;

import java.util.ArrayList;
import java.util.List;

/**
 * The global context SnapStart's hooks register with (org.crac.Core delegates here when started
 * with -Dorg.crac.Core.Compat=com.amazonaws.services.lambda.crac, as Lambda's java runtimes are).
 * Before the snapshot, hooks run in reverse order of registration; after the restore, in order.
 */
public final class Core {
    private Core() {
    }

    private static final Context<Resource> GLOBAL = new Context<Resource>() {
        private final List<Resource> resources = new ArrayList<>();

        @Override
        public synchronized void beforeCheckpoint(Context<? extends Resource> context) throws CheckpointException {
            CheckpointException failed = new CheckpointException();
            for (int i = resources.size() - 1; i >= 0; i--) {
                try {
                    resources.get(i).beforeCheckpoint(this);
                } catch (Exception e) {
                    failed.addSuppressed(e);
                }
            }
            if (failed.getSuppressed().length > 0) {
                throw failed;
            }
        }

        @Override
        public synchronized void afterRestore(Context<? extends Resource> context) throws RestoreException {
            RestoreException failed = new RestoreException();
            for (Resource resource : new ArrayList<>(resources)) {
                try {
                    resource.afterRestore(this);
                } catch (Exception e) {
                    failed.addSuppressed(e);
                }
            }
            if (failed.getSuppressed().length > 0) {
                throw failed;
            }
        }

        @Override
        public synchronized void register(Resource resource) {
            resources.add(resource);
        }
    };

    public static Context<Resource> getGlobalContext() {
        return GLOBAL;
    }

    public static void checkpointRestore() {
        throw new UnsupportedOperationException();
    }
}
