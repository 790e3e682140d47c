package dev.upcycle.cli;

import static org.assertj.core.api.Assertions.assertThat;

import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import dev.upcycle.runtime.Djl;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.util.concurrent.Callable;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

/** A real libtorch allocation failure inside a command is exit 4 and one line, not an internal error. */
class AllocationFailureTest {

    @CommandLine.Command(name = "alloc")
    static final class Alloc implements Callable<Integer> {
        @Override
        public Integer call() {
            try (NDManager m = Djl.newManager()) {
                m.create(new Shape(1L << 46), DataType.FLOAT32); // 256 TB
            }
            return 0;
        }
    }

    @Test
    void libtorchRefusingAnAllocationIsOutOfMemory() {
        CommandLine cl = new CommandLine(new Alloc());
        ErrorHandler handler = new ErrorHandler();
        cl.setExecutionExceptionHandler(handler);
        StringWriter err = new StringWriter();
        cl.setErr(new PrintWriter(err, true));
        assertThat(cl.execute()).as(err.toString()).isEqualTo(4);
        assertThat(err.toString()).startsWith("upcycle: OutOfMemory : alloc : libtorch could not allocate memory")
                .doesNotContain("\tat ");
        assertThat(err.toString().lines()).hasSize(2);
    }
}
