package dev.upcycle.runtime;

/** Receives each sparse layer's routing during a forward pass (auxiliary losses, expert-load statistics). */
@FunctionalInterface
public interface RoutingListener {
    RoutingListener NONE = (layer, routing) -> { };

    void onRouting(int layer, Routing routing);
}
