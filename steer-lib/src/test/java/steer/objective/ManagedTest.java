package steer.objective;

import ai.djl.ndarray.NDManager;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;

/** Gives each test a fresh manager that owns every array it makes. */
abstract class ManagedTest {

    protected NDManager m;

    @BeforeEach
    void openManager() {
        m = NDManager.newBaseManager();
    }

    @AfterEach
    void closeManager() {
        m.close();
    }
}
