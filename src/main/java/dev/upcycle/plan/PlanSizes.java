package dev.upcycle.plan;

import dev.upcycle.io.CheckpointWriter;
import dev.upcycle.io.ShardPlan;
import dev.upcycle.io.TensorSpec;
import dev.upcycle.model.ModelConfig;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * The output's files and sizes: every tensor given its shard, the parameters written, those a token
 * uses, and the tensor bytes.
 *
 * @param tensors the planned tensors, each with its shard
 * @param shards  output files, in order
 * @param total   parameters written
 * @param active  parameters used per token (routed experts: top-k of them)
 * @param bytes   tensor bytes written (headers not counted)
 */
record PlanSizes(List<PlannedTensor> tensors, List<ShardPlan> shards, long total, long active, long bytes) {

    static PlanSizes of(List<PlannedTensor> planned, ModelConfig config, long maxShardSize) {
        List<TensorSpec> specs = planned.stream().map(PlannedTensor::spec).toList();
        List<ShardPlan> shards = CheckpointWriter.planShards(specs, maxShardSize);
        Map<String, String> shardOf = new HashMap<>();
        for (ShardPlan s : shards) {
            s.tensors().forEach(t -> shardOf.put(t.name(), s.fileName()));
        }
        List<PlannedTensor> out = new ArrayList<>(planned.size());
        long total = 0;
        long active = 0;
        long bytes = 0;
        for (PlannedTensor t : planned) {
            out.add(new PlannedTensor(t.name(), t.role(), t.layer(), t.expert(), t.dtype(), t.shape(), t.source(),
                    shardOf.get(t.name())));
            long n = t.shape().elements();
            total += n;
            if (config.isActive(t.role(), t.expert())) {
                active += n;
            }
            bytes += t.byteSize();
        }
        return new PlanSizes(out, shards, total, active, bytes);
    }
}
