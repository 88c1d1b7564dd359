/**
 * Where oidc-provider keeps its short-lived records (interactions, sessions, grants, authorization codes,
 * access tokens): memory, as the library's own quick-start store does, but sized for load tests and
 * expiring by each record's lifetime. The library's default holds at most 2,000 records (an LRU of 1,000
 * in two generations), a few hundred sign-ins in flight, after which a citizen midway through the login
 * page would find it forgotten. Nothing here outlives the process: after a restart a citizen signs in
 * again (keys, subjects and the registry, which do persist, live in the state folder).
 */

type Payload = Record<string, unknown> & { grantId?: string; uid?: string; userCode?: string; consumed?: number };

interface Entry {
  payload: Payload;
  /** Epoch milliseconds; Infinity for a record the library stores without a lifetime. */
  expiresAt: number;
}

/** Records that belong to a grant and go when the grant is revoked (OAuth token revocation semantics). */
const GRANTABLE = new Set(["AccessToken", "AuthorizationCode", "RefreshToken", "DeviceCode", "BackchannelAuthenticationRequest"]);

/** A bound far above any local run; past it the oldest records go first. */
const MAX_ENTRIES = 100_000;
/** Expired records are dropped this often, so abandoned logins do not pile up until the bound. */
const SWEEP_EVERY_MS = 60_000;

export class ProviderStore {
  readonly #entries = new Map<string, Entry>();
  readonly #sessionByUid = new Map<string, string>();
  readonly #byUserCode = new Map<string, string>();
  readonly #grantMembers = new Map<string, Set<string>>();

  /** oidc-provider's `adapter` option: one adapter per model name, all sharing this store. */
  readonly adapter = (model: string) => new ProviderStoreAdapter(model, this);

  constructor() {
    // unref: the sweep alone must not keep a stopping process alive.
    setInterval(() => this.#sweep(), SWEEP_EVERY_MS).unref();
  }

  get(key: string): Payload | undefined {
    const entry = this.#entries.get(key);
    if (!entry) return undefined;
    if (entry.expiresAt <= Date.now()) {
      this.delete(key);
      return undefined;
    }
    return entry.payload;
  }

  set(model: string, key: string, id: string, payload: Payload, expiresInSeconds: number | undefined): void {
    this.delete(key);
    const expiresAt = typeof expiresInSeconds === "number" ? Date.now() + expiresInSeconds * 1000 : Infinity;
    this.#entries.set(key, { payload, expiresAt });
    if (model === "Session" && payload.uid) this.#sessionByUid.set(payload.uid, id);
    if (payload.userCode) this.#byUserCode.set(payload.userCode, id);
    if (GRANTABLE.has(model) && payload.grantId) {
      const members = this.#grantMembers.get(payload.grantId) ?? new Set<string>();
      members.add(key);
      this.#grantMembers.set(payload.grantId, members);
    }
    if (this.#entries.size > MAX_ENTRIES) this.#evict();
  }

  delete(key: string): void {
    const entry = this.#entries.get(key);
    if (!entry) return;
    this.#entries.delete(key);
    const { uid, userCode, grantId } = entry.payload;
    const id = key.slice(key.indexOf(":") + 1);
    if (uid && this.#sessionByUid.get(uid) === id) this.#sessionByUid.delete(uid);
    if (userCode && this.#byUserCode.get(userCode) === id) this.#byUserCode.delete(userCode);
    if (grantId) {
      const members = this.#grantMembers.get(grantId);
      members?.delete(key);
      if (members?.size === 0) this.#grantMembers.delete(grantId);
    }
  }

  sessionIdForUid(uid: string): string | undefined {
    return this.#sessionByUid.get(uid);
  }

  idForUserCode(userCode: string): string | undefined {
    return this.#byUserCode.get(userCode);
  }

  revokeGrant(grantId: string): void {
    for (const key of [...(this.#grantMembers.get(grantId) ?? [])]) this.delete(key);
    this.#grantMembers.delete(grantId);
  }

  #sweep(): void {
    const now = Date.now();
    for (const [key, entry] of this.#entries) if (entry.expiresAt <= now) this.delete(key);
  }

  /** Expired records first; then, if still full, the oldest (a Map iterates in insertion order). */
  #evict(): void {
    this.#sweep();
    for (const key of this.#entries.keys()) {
      if (this.#entries.size <= MAX_ENTRIES * 0.9) break;
      this.delete(key);
    }
  }
}

/** The adapter contract of oidc-provider 9 (see its adapters/memory_adapter.js) over ProviderStore. */
class ProviderStoreAdapter {
  constructor(
    readonly model: string,
    readonly store: ProviderStore,
  ) {}

  #key(id: string): string {
    return `${this.model}:${id}`;
  }

  async upsert(id: string, payload: Payload, expiresIn?: number): Promise<void> {
    this.store.set(this.model, this.#key(id), id, payload, expiresIn);
  }

  async find(id: string): Promise<Payload | undefined> {
    return this.store.get(this.#key(id));
  }

  async findByUid(uid: string): Promise<Payload | undefined> {
    const id = this.store.sessionIdForUid(uid);
    return id === undefined ? undefined : this.find(id);
  }

  async findByUserCode(userCode: string): Promise<Payload | undefined> {
    const id = this.store.idForUserCode(userCode);
    return id === undefined ? undefined : this.find(id);
  }

  /** Marks an authorization code (or the like) used, so a second exchange is refused and its grant revoked. */
  async consume(id: string): Promise<void> {
    const payload = this.store.get(this.#key(id));
    if (payload) payload.consumed = Math.floor(Date.now() / 1000);
  }

  async destroy(id: string): Promise<void> {
    this.store.delete(this.#key(id));
  }

  async revokeByGrantId(grantId: string): Promise<void> {
    this.store.revokeGrant(grantId);
  }
}
