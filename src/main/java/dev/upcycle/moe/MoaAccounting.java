package dev.upcycle.moe;

import dev.upcycle.model.MoaConfig;
import dev.upcycle.model.ModelConfig;

/**
 * docs/attention-experts.md, "Parameters, active parameters and FLOPs": total and active parameters and
 * forward FLOPs per token of a dense model, an FFN-only MoE (BTX) and both MoA variants, from the
 * formulas (biases not counted). Every layer is taken to be an expert layer.
 *
 * @param d      hidden size
 * @param h      query heads
 * @param hKv    key/value heads
 * @param hd     head dim
 * @param f      SwiGLU inner width (gate and up are each f x d)
 * @param vocab  V
 * @param layers L
 * @param tied   lm_head shares the embedding
 * @param norms  norms per block (1 or 2)
 */
public record MoaAccounting(long d, long h, long hKv, long hd, long f, long vocab, long layers, boolean tied,
                            int norms) {

    /** Totals for one model kind. */
    public record Counts(String model, long total, long active, long flopsPerToken) {
    }

    /** The shape of {@code c} (two norms per block unless a parallel one-norm MoA config says otherwise). */
    public static MoaAccounting of(ModelConfig c) {
        int norms = c.normsPerBlock();
        return new MoaAccounting(c.hiddenSize(), c.numAttentionHeads(), c.numKeyValueHeads(), c.headDim(),
                c.intermediateSize(), c.vocabSize(), c.numHiddenLayers(), c.tieWordEmbeddings(), norms);
    }

    long pq() {
        return d * h * hd;
    }

    long pkv() {
        return 2 * d * hKv * hd;
    }

    long patt() {
        return 2 * pq() + pkv();
    }

    long pffn() {
        return 3 * d * f;
    }

    /** Embedding, lm_head unless tied, final norm and the per-block norms. */
    long outside() {
        return vocab * d * (tied ? 1 : 2) + d + layers * norms * d;
    }

    /** Score FLOPs of one attention per token: {@code 2 n_ctx (h hd)} (Table 10's {@code 2 n_ctx d} for MHA). */
    long scores(long nCtx) {
        return 2 * nCtx * h * hd;
    }

    public Counts dense(long nCtx) {
        long per = patt() + pffn();
        long flops = 2 * patt() + scores(nCtx) + 2 * pffn();
        return new Counts("dense", layers * per + outside(), layers * per + outside(), layers * flops);
    }

    /** FFN-only MoE (BTX): {@code ef} experts, {@code kf} per token. */
    public Counts btx(int ef, int kf, long nCtx) {
        long rf = ef * d;
        long total = patt() + ef * pffn() + rf;
        long active = patt() + kf * pffn() + rf;
        long flops = 2 * patt() + scores(nCtx) + 2 * rf + 2 * kf * pffn();
        return new Counts("ffn-moe", layers * total + outside(), layers * active + outside(), layers * flops);
    }

    /** BAM: {@code ea} attention experts, {@code ka} per token (= ea for soft routing). */
    public Counts bam(MoaConfig.Variant variant, int ea, int ka, int ef, int kf, long nCtx) {
        long ra = ea * d;
        long rf = ef * d;
        boolean separate = variant == MoaConfig.Variant.SEPARATE;
        // Separate experts' K/V are computed for every token even under top-k
        // (docs/attention-experts.md, "KV cache").
        long kv = separate ? ea * pkv() : pkv();
        long total = ea * 2 * pq() + kv + ra + ef * pffn() + rf;
        long active = ka * 2 * pq() + kv + ra + kf * pffn() + rf;
        long flops = 2 * ra + 2 * (ka * 2 * pq() + kv) + ka * scores(nCtx) + 2 * rf + 2 * kf * pffn();
        return new Counts("bam-" + variant.token(), layers * total + outside(), layers * active + outside(),
                layers * flops);
    }

    /**
     * Forward FLOPs per token of the decoder layers of any config, layer by layer, by the same
     * formulas: dense or MoA attention, dense or routed FFN (expert width and top-k from the
     * config, a shared expert counted in full). Biases, norms and the lm_head are not counted,
     * as in docs/attention-experts.md. Equals {@link #dense}, {@link #btx} or {@link #bam} for configs
     * of those kinds.
     */
    public static long forwardFlops(ModelConfig c, long nCtx) {
        MoaAccounting a = of(c);
        long flops = 0;
        for (int layer = 0; layer < c.numHiddenLayers(); layer++) {
            if (c.isMoaLayer(layer)) {
                MoaConfig moa = c.moa();
                long ka = moa.activeExperts();
                long kv = moa.variant() == MoaConfig.Variant.SEPARATE ? moa.numAttentionExperts() * a.pkv() : a.pkv();
                flops += 2 * moa.numAttentionExperts() * a.d + 2 * (ka * 2 * a.pq() + kv) + ka * a.scores(nCtx);
            } else {
                flops += 2 * a.patt() + a.scores(nCtx);
            }
            if (c.isSparseLayer(layer)) {
                var moe = c.moe();
                long expert = 3 * a.d * moe.expertWidth();
                // A shared expert and its sigmoid gate (a 1 x d projection) see every token.
                long shared = moe.hasSharedExpert() ? 3 * a.d * moe.sharedExpertWidth() + a.d : 0;
                flops += 2 * moe.numExperts() * a.d + 2 * moe.numExpertsPerTok() * expert + 2 * shared;
            } else {
                flops += 2 * a.pffn();
            }
        }
        return flops;
    }
}
