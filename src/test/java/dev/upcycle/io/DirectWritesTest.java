package dev.upcycle.io;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.MappedByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.ReadableByteChannel;
import java.nio.channels.WritableByteChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Writes around the page cache give the same file, byte for byte, and the same SHA-256 as writes
 * through it: with elements that straddle two pipeline buffers (every buffer but the tail is
 * written whole), with tensors kept in the page cache between direct ones, and when the file
 * system takes {@code O_DIRECT} at open but refuses the writes (the rest goes through the cache).
 */
class DirectWritesTest {
    @TempDir
    Path tmp;

    /** One BF16 tensor of odd length shifts the F32 tensor after it by 2 bytes, so some F32 lands across a buffer boundary. */
    private static final List<TensorSpec> SPECS = List.of(
            new TensorSpec("a.odd", DType.BF16, Shape.of(3)),
            new TensorSpec("b.big", DType.F32, Shape.of(PipelinedFileSink.PIPE_BYTES / 4 + 1001)),
            new TensorSpec("c.kept", DType.BF16, Shape.of(PipelinedFileSink.PIPE_BYTES / 2 + 7)),
            new TensorSpec("d.repeat", DType.BF16, Shape.of(PipelinedFileSink.PIPE_BYTES / 2 + 7)),
            new TensorSpec("e.tail", DType.F16, Shape.of(5)));

    private static void fill(TensorSpec spec, TensorSink sink) {
        Random rnd = new Random(spec.name().hashCode());
        switch (spec.name()) {
            case "c.kept" -> {
                sink.keepCached();
                ByteBuffer b = ByteBuffer.allocate((int) spec.byteSize());
                rnd.nextBytes(b.array());
                sink.write(b);
            }
            case "d.repeat" -> assertThat(sink.repeat("c.kept")).isTrue();
            default -> {
                float[] v = new float[(int) spec.shape().elements()];
                for (int i = 0; i < v.length; i++) {
                    v[i] = (float) rnd.nextGaussian();
                }
                // In uneven pieces, so piece and buffer boundaries fall anywhere.
                for (int at = 0; at < v.length; ) {
                    int n = Math.min(v.length - at, 1 + rnd.nextInt(1 << 20));
                    sink.writeFloats(v, at, n);
                    at += n;
                }
            }
        }
    }

    private List<Object> write(String name, boolean direct) {
        List<FileDigest> digests = new ArrayList<>();
        Path[] dir = new Path[1];
        DirectIo.with(tmp, direct, () -> dir[0] = CheckpointWriter.write(tmp.resolve(name), SPECS, Long.MAX_VALUE,
                Map.of(), DirectWritesTest::fill, digests::add).directory());
        return List.of(dir[0].resolve(CheckpointWriter.SINGLE_FILE), digests.get(0));
    }

    @Test
    void directAndCachedWritesGiveTheSameFileAndDigest() throws IOException {
        List<Object> cached = write("cached", false);
        List<Object> direct = write("direct", true);
        Path a = (Path) cached.get(0);
        Path b = (Path) direct.get(0);
        assertThat(Files.mismatch(a, b)).isEqualTo(-1L);
        assertThat(((FileDigest) direct.get(1)).sha256()).isEqualTo(((FileDigest) cached.get(1)).sha256())
                .isEqualTo(FileDigest.of(b.getParent(), b).sha256());
        assertThat(Files.size(b) % 4096).as("the tail is not a whole block").isNotZero();
    }

    @Test
    void refusedDirectWritesFallBackToThePageCache() throws IOException {
        List<Object> cached = write("cached", false);
        Path file = tmp.resolve("refused.safetensors");
        SafetensorsWriter.Layout layout = SafetensorsWriter.layout(SPECS, Map.of(), file.toString());
        WrittenRegions regions = new WrittenRegions();
        String sha;
        RefusingChannel refusing = new RefusingChannel();
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE,
                StandardOpenOption.READ);
             FileChannel closing = refusing;
             PipelinedFileSink sink = new PipelinedFileSink(ch, file.toString(), true, file, regions, refusing, 4096)) {
            sink.raw(ByteBuffer.allocate(8).order(java.nio.ByteOrder.LITTLE_ENDIAN).putLong(layout.header().length).flip());
            sink.raw(ByteBuffer.wrap(layout.header()));
            long dataStart = 8L + layout.header().length;
            for (int i = 0; i < layout.tensors().size(); i++) {
                TensorSpec spec = layout.tensors().get(i);
                sink.begin(spec);
                fill(spec, sink);
                sink.end();
                TensorHeader h = layout.headers().get(i);
                regions.add(spec.name(), new WrittenRegions.Region(file, dataStart + h.begin(), h.byteSize()));
            }
            sha = sink.finish();
        }
        assertThat(refusing.refused).as("tried once, then through the page cache").isEqualTo(1);
        Path want = (Path) cached.get(0);
        assertThat(Files.mismatch(want, file)).isEqualTo(-1L);
        assertThat(sha).isEqualTo(((FileDigest) cached.get(1)).sha256());
    }

    @Test
    void switchedOffByPropertyOrEnvironment() {
        DirectIo.with(tmp, false, () -> assertThat(DirectWrites.enabled()).isFalse());
        String before = System.getProperty("upcycle.directIo");
        try {
            System.setProperty("upcycle.directIo", "0");
            assertThat(DirectWrites.enabled()).isFalse();
            System.setProperty("upcycle.directIo", "true");
            assertThat(DirectWrites.enabled()).isTrue();
        } finally {
            if (before == null) {
                System.clearProperty("upcycle.directIo");
            } else {
                System.setProperty("upcycle.directIo", before);
            }
        }
    }

    /** A channel that takes {@code O_DIRECT} at open but refuses every write, as some file systems do (EINVAL). */
    private static final class RefusingChannel extends FileChannel {
        int refused;

        @Override
        public int write(ByteBuffer src, long position) throws IOException {
            refused++;
            throw new IOException("Invalid argument");
        }

        @Override
        public int write(ByteBuffer src) throws IOException {
            return write(src, 0);
        }

        @Override
        public long write(ByteBuffer[] srcs, int offset, int length) throws IOException {
            return write(srcs[offset], 0);
        }

        @Override
        public int read(ByteBuffer dst) {
            throw new UnsupportedOperationException();
        }

        @Override
        public long read(ByteBuffer[] dsts, int offset, int length) {
            throw new UnsupportedOperationException();
        }

        @Override
        public int read(ByteBuffer dst, long position) {
            throw new UnsupportedOperationException();
        }

        @Override
        public long position() {
            return 0;
        }

        @Override
        public FileChannel position(long newPosition) {
            return this;
        }

        @Override
        public long size() {
            return 0;
        }

        @Override
        public FileChannel truncate(long size) {
            throw new UnsupportedOperationException();
        }

        @Override
        public void force(boolean metaData) {
        }

        @Override
        public long transferTo(long position, long count, WritableByteChannel target) {
            throw new UnsupportedOperationException();
        }

        @Override
        public long transferFrom(ReadableByteChannel src, long position, long count) {
            throw new UnsupportedOperationException();
        }

        @Override
        public MappedByteBuffer map(MapMode mode, long position, long size) {
            throw new UnsupportedOperationException();
        }

        @Override
        public FileLock lock(long position, long size, boolean shared) {
            throw new UnsupportedOperationException();
        }

        @Override
        public FileLock tryLock(long position, long size, boolean shared) {
            throw new UnsupportedOperationException();
        }

        @Override
        protected void implCloseChannel() {
        }
    }
}
