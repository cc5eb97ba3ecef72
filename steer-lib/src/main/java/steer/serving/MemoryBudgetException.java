package steer.serving;

/**
 * A model does not fit a registry's memory budget even with every unpinned model evicted; nothing was evicted and
 * the name keeps what it served. Services answer RESOURCE_EXHAUSTED: the load may fit once models are unpinned or
 * the budget is raised, but not on a plain retry.
 */
public final class MemoryBudgetException extends RuntimeException {

    private static final long serialVersionUID = 1L;

    MemoryBudgetException(String message) {
        super(message);
    }
}
