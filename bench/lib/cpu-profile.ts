/**
 * V8's CPU profile (the `.cpuprofile` of `node --cpu-prof` and of the inspector's Profiler.stop), as the
 * bench's profiling tools (profile-edge.ts, profile-origin.ts) read it: a tree of call frames, and the
 * node each sample hit.
 */

export interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number; columnNumber: number };
  hitCount?: number;
  children?: number[];
}

export interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  /** µs from the previous sample (the first: from startTime), on the machine's monotonic clock. */
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

/** The profile's nodes by id, and the stack a sample's node stands for: that node first, the root last. */
export function profileStacks(profile: Profile): { node: (id: number) => ProfileNode; stackOf: (id: number) => ProfileNode[] } {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  return {
    node: (id) => byId.get(id)!,
    stackOf(id) {
      const stack: ProfileNode[] = [];
      for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) stack.push(byId.get(at)!);
      return stack;
    },
  };
}
