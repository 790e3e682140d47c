package dev.upcycle.faults;

import static org.assertj.core.api.Assertions.assertThat;

import dev.upcycle.testing.Cli;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Several runs write the same output at once, round after round: {@code convert --force} in child
 * JVMs (the lock between processes) and in threads of this JVM (between runs of one process),
 * and {@code train -o} in child JVMs. In every round each run either wins (exit 0) or is refused
 * with OutputLocked (exit 4) before touching anything; none fails later because another run
 * removed its staging (the old lock let about one round in five through). Winners may follow one
 * another when a run starts after the previous one finished; the output is complete after every
 * round, and no lock file or staging directory is left.
 */
class ConcurrentLockTest {
    private static final int PROCESS_ROUNDS = 8;
    private static final int PROCESSES = 5;
    private static final int THREAD_ROUNDS = 30;
    private static final int THREADS = 6;

    @TempDir
    static Path tmp;
    static Path dense;

    @BeforeAll
    static void synth() {
        dense = tmp.resolve("dense");
        assertThat(run("synth", "--family", "llama", "-o", dense.toString(), "-q")).isZero();
    }

    private static int run(String... args) {
        return Cli.run(args).code();
    }

    private static String[] convertArgs(Path out) {
        return new String[] {"convert", dense.toString(), "-o", out.toString(), "--experts", "8", "--top-k", "2",
            "--routing", "topk-softmax", "--force", "-q"};
    }

    /** Tallies of one kind of round. */
    private static final class Tally {
        int rounds;
        int winners;
        int locked;
        final List<String> pastTheLock = new ArrayList<>();
        int maxWinners;

        void round(List<Child.Result> results) {
            rounds++;
            int won = 0;
            for (Child.Result r : results) {
                if (r.code() == 0) {
                    won++;
                } else if (r.code() == 4 && r.errorLines().size() == 1
                        && r.errorLines().get(0).startsWith("upcycle: OutputLocked : ")) {
                    locked++;
                } else {
                    pastTheLock.add("round " + rounds + ": exit " + r.code() + ": " + r.text().strip());
                }
            }
            winners += won;
            maxWinners = Math.max(maxWinners, won);
        }

        String line(String what) {
            return String.format("%s: %d rounds, %d winners (at most %d in a round), %d refused with OutputLocked,"
                    + " %d got past the lock", what, rounds, winners, maxWinners, locked, pastTheLock.size());
        }
    }

    /**
     * Tallies the round; a clean round must leave a complete output and nothing else. A round
     * where a run got past the lock is counted (the test fails at the end with every such run
     * listed) and its debris removed, so the later rounds still measure.
     */
    private static void afterRound(Tally tally, List<Child.Result> results, Path parent, Path out) throws IOException {
        int before = tally.pastTheLock.size();
        tally.round(results);
        if (tally.pastTheLock.size() == before) {
            assertCleanRound(parent, out, out.getFileName().toString());
        } else {
            dev.upcycle.io.OutputDirectory.deleteTree(parent);
            Files.createDirectories(parent);
        }
    }

    private static void assertCleanRound(Path parent, Path out, String name) throws IOException {
        assertThat(run("verify", out.toString())).as("output complete after the round").isZero();
        try (Stream<Path> s = Files.list(parent)) {
            assertThat(s.map(p -> p.getFileName().toString())).as("no lock or staging left").containsExactly(name);
        }
    }

    @Test
    void concurrentConvertsInChildProcessesLeaveOneOwner() throws Exception {
        Path parent = Files.createDirectories(tmp.resolve("processes"));
        Path out = parent.resolve("moe");
        Tally tally = new Tally();
        for (int round = 0; round < PROCESS_ROUNDS; round++) {
            List<Child> children = new ArrayList<>();
            for (int i = 0; i < PROCESSES; i++) {
                children.add(Child.start(tmp, convertArgs(out)));
            }
            List<Child.Result> results = new ArrayList<>();
            for (Child c : children) {
                results.add(c.await(120));
            }
            afterRound(tally, results, parent, out);
        }
        System.out.println(tally.line("concurrent convert, " + PROCESSES + " child JVMs per round"));
        assertThat(tally.pastTheLock).as(tally.line("processes")).isEmpty();
        assertThat(tally.winners).isGreaterThanOrEqualTo(PROCESS_ROUNDS);
    }

    @Test
    void concurrentConvertsInThreadsLeaveOneOwner() throws Exception {
        Path parent = Files.createDirectories(tmp.resolve("threads"));
        Path out = parent.resolve("moe");
        Tally tally = new Tally();
        ExecutorService pool = Executors.newFixedThreadPool(THREADS);
        try {
            for (int round = 0; round < THREAD_ROUNDS; round++) {
                CyclicBarrier start = new CyclicBarrier(THREADS);
                List<Future<Child.Result>> futures = new ArrayList<>();
                for (int i = 0; i < THREADS; i++) {
                    futures.add(pool.submit(() -> {
                        start.await();
                        Cli run = Cli.run(convertArgs(out));
                        return new Child.Result(run.code(), run.err());
                    }));
                }
                List<Child.Result> results = new ArrayList<>();
                for (Future<Child.Result> f : futures) {
                    results.add(f.get());
                }
                afterRound(tally, results, parent, out);
            }
        } finally {
            pool.shutdownNow();
        }
        System.out.println(tally.line("concurrent convert, " + THREADS + " threads per round"));
        assertThat(tally.pastTheLock).as(tally.line("threads")).isEmpty();
        assertThat(tally.winners).isGreaterThanOrEqualTo(THREAD_ROUNDS);
    }

    @Test
    void concurrentTrainsIntoOneRunDirectoryLeaveOneOwner() throws Exception {
        Path parent = Files.createDirectories(tmp.resolve("train"));
        Path out = parent.resolve("run");
        Path data = Files.writeString(tmp.resolve("train.txt"),
                Files.readString(Paths.get("test-fixtures/corpus/train.txt")).substring(0, 20_000));
        List<Child> children = new ArrayList<>();
        for (int i = 0; i < 3; i++) {
            children.add(Child.start(tmp, "train", dense.toString(), "--data", data.toString(), "--bytes",
                    "-o", out.toString(), "--steps", "6", "--batch", "2", "--seq-len", "32", "--save-every", "3",
                    "--eval-every", "0", "--force", "-q"));
        }
        List<Child.Result> results = new ArrayList<>();
        for (Child c : children) {
            results.add(c.await(300));
        }
        Tally tally = new Tally();
        tally.round(results);
        System.out.println(tally.line("concurrent train, 3 child JVMs"));
        assertThat(tally.pastTheLock).as(tally.line("train")).isEmpty();
        assertThat(tally.winners).isPositive();
        assertCleanRound(parent, out, "run");
    }
}
