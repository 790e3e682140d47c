package dev.upcycle.hostile;

import static org.assertj.core.api.Assertions.assertThat;

import dev.upcycle.hostile.HostileCorpus.Case;
import dev.upcycle.hostile.HostileCorpus.Outcome;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import org.junit.jupiter.api.Test;

/**
 * The corpus itself: big enough, uniquely named, and covering every error row of docs/formats.md,
 * "Rejected inputs".
 */
class HostileCorpusTest {

    @Test
    void atLeast45NamedCasesWithUniqueIds() {
        List<Case> all = HostileCorpus.all();
        assertThat(all).hasSizeGreaterThanOrEqualTo(45);
        Set<String> ids = new HashSet<>();
        for (Case c : all) {
            assertThat(ids.add(c.id())).as("duplicate id %s", c.id()).isTrue();
            assertThat(c.id()).matches("[a-z0-9][a-z0-9-]*");
            assertThat(c.expected() != null || c.outcome() == Outcome.ACCEPTED).as(c.id()).isTrue();
        }
    }

    /**
     * Rows 1-34 and 37 of docs/formats.md, "Rejected inputs", each have a case. 35 (mixed dtypes) and
     * 38 (total_size) are warnings, 36 (file changes while read) cannot be a static input:
     * io.HostileInputTest covers it.
     */
    @Test
    void everyErrorItemOfFormatsSection7IsCovered() {
        Set<Integer> covered = new TreeSet<>();
        for (Case c : HostileCorpus.all()) {
            String digits = c.id().replaceAll("^[a-z]+(\\d+)-.*$", "$1");
            if (!digits.equals(c.id())) {
                covered.add(Integer.parseInt(digits));
            }
        }
        Set<Integer> wanted = new TreeSet<>();
        for (int i = 1; i <= 37; i++) {
            if (i != 35 && i != 36) {
                wanted.add(i);
            }
        }
        assertThat(covered).containsAll(wanted);
    }
}
