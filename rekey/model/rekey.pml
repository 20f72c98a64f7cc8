/*
 * qsafe-rekey: spin model of the make-before-break rekey of one E2 link.
 *
 * Processes: the RIC's rekey machine, the node's rekey machine, a data sender and a data
 * receiver on each side, and the network, which loses control messages (at most LOSSMAX in
 * total) and delivers what is in flight in any order (every channel is a multiset: reordering;
 * retransmissions give duplicates). The kernel SA tables of both sides are arrays indexed by
 * epoch. Epochs 1..MAXE are rekeyed; epoch 0 means "no SA" (plaintext, bootstrap).
 *
 * Control messages travel on the same SCTP association as data, so the kernel policies apply
 * to them: a REKEY the RIC sends before its first switch is plaintext (c2n_plain), and the
 * node's kernel drops it once the node installed its ESP-required policy. This is what makes
 * bootstrap special: a lost or late bootstrap outcome cannot be repaired by retransmitting the
 * REKEY. Two rules repair it (docs/rekey-protocol.md, "Bootstrap and RequireEsp"):
 *  - late adoption: the RIC adopts a verified outcome of an epoch it gave up on, if newer than
 *    its outbound SA (it kept that epoch's inbound SA);
 *  - bootstrap fallback: the node returns to bootstrap when the RIC never switched to its
 *    bootstrap epoch (no outcome will reach the RIC any more; in the code: the hard cap passed
 *    without evidence, a time longer than the outcome's delivery and the RIC's reaction).
 *
 * Abstractions (see docs/rekey-protocol.md, "What the spin model proves"):
 *  - signatures are perfect: the network can lose, duplicate (via retransmission) and reorder
 *    control messages but not forge them (forgery is the Rust tests' and ML-DSA's job);
 *  - "grace elapsed" is "no data packet of that epoch is still in flight" (the grace period is
 *    longer than the network's maximum delay);
 *  - a timeout may fire at any time (premature timeouts are explored); the RIC gives up when
 *    every copy of its REKEY and every answer is gone, or early (at most EARLYMAX times: a
 *    slow node whose outcome is still on its way);
 *  - node refusals are answers the RIC ignores (they change nothing at the node).
 *
 * Properties:
 *  P1 (assert) after RequireEsp a side sends only under an installed outbound SA, never in
 *     plaintext;
 *  P2 (assert) the epochs the node applies strictly increase (never repeat);
 *  P3 (assert) make-before-break: every packet sent under epoch e arrives while the receiver
 *     holds inbound SA e;
 *  P4 (assert at the RIC's end + no invalid end state) the rekey loop never deadlocks, and if
 *     at most R messages are lost the link ends usable: the RIC sends under an SA the node
 *     holds, so later rekeys reach the node (no stuck bootstrap); without early give-ups every
 *     rekey up to the last completes (with one, an epoch whose REKEY the node's policy dropped
 *     while the late outcome was on its way is lost, and the RIC rekeys on);
 *  P5 (ltl, weak fairness) the RIC eventually finishes its rekeys.
 *
 * Mutations: -DBROKEN_EARLY_DELETE makes the node delete its old inbound SAs as soon as it
 * acknowledges a REKEY, without evidence that the RIC switched: P3 must fail.
 * -DNO_BOOTSTRAP_REPAIR removes late adoption and the bootstrap fallback (the protocol before
 * the kernel tier found the stuck bootstrap): P4 must fail.
 */

#ifndef MAXE
#define MAXE 3
#endif
#ifndef R
#define R 2
#endif
#ifndef LOSSMAX
#define LOSSMAX 3
#endif
#ifndef EARLYMAX
#define EARLYMAX 1
#endif
#define E (MAXE + 1)
#define DCAP 2

/* control messages in flight: copies per epoch */
byte c2n[E];   /* REKEY e, RIC -> node, under ESP */
byte c2n_plain[E]; /* REKEY e, RIC -> node, in clear (before the RIC's first switch) */
byte n2c[E];   /* ACK e (signed Success outcome), node -> RIC */
byte losses;

/* data packets in flight per epoch (0 = plaintext) */
byte d_r2n[E];
byte d_n2r[E];
byte inflight_r2n;
byte inflight_n2r;

/* kernel SA tables */
bool ric_in[E];
byte ric_out;      /* newest installed outbound SA = the one the kernel uses; 0 = none */
bool ric_esp;      /* ESP-required policy */
bool node_in[E];
byte node_out;
bool node_esp;

/* node protocol state */
byte node_applied; /* highest applied epoch (= its cached outcome's epoch) */
byte node_boot;    /* the epoch that installed the node's ESP-required policy (0: none) */
bool evidence[E];  /* a packet arrived under inbound SA e */

/* RIC protocol state */
byte ric_outstanding;
byte completed;
byte gaveup;
byte early;        /* early give-ups so far */
bool gave_up[E];   /* epochs given up (their outcome may still come: late adoption) */
byte superseded;   /* late outcomes that arrived after a newer switch */
byte fellback;     /* bootstrap epochs the node gave up */
bool ric_finished;

/* ghost: for P2 */
byte last_applied;

/* the RIC sends REKEY(k) under its outbound SA, or in clear before its first switch */
inline send_rekey(k) {
  if
  :: ric_esp -> c2n[k]++
  :: else -> c2n_plain[k]++
  fi
}

#define INFLIGHT(k) (c2n[k] + c2n_plain[k] + n2c[k])
#ifdef NO_BOOTSTRAP_REPAIR
#define ADOPTABLE(k) false
#define FALLBACK false
#else
#define ADOPTABLE(k) (n2c[k] > 0 && gave_up[k] && k != ric_outstanding && k > ric_out)
/* bootstrap fallback: the RIC never switched to the node's bootstrap epoch and no copy of its
 * REKEY or outcome is left (in the code: the hard cap passed without evidence) */
#define FALLBACK (node_boot != 0 && !evidence[node_boot] && ric_out == 0 && ric_outstanding != node_boot && INFLIGHT(node_boot) == 0)
#endif
/* late adoption: a verified outcome of a given-up epoch newer than the RIC's outbound SA */
#define RIC_LATE(k) :: atomic { ADOPTABLE(k) -> n2c[k]--; assert(ric_in[k]); \
       ric_out = k; ric_esp = true; gave_up[k] = false; completed++ }

active proctype Ric() {
  byte e = 0;
  byte rt = 0;
  do
  :: atomic { ric_outstanding == 0 && e < MAXE ->
       e++;
       ric_in[e] = true;          /* make: the new inbound SA first */
       ric_outstanding = e; rt = 0;
       send_rekey(e) }            /* then send REKEY(e) */
  :: atomic { ric_outstanding != 0 && n2c[ric_outstanding] > 0 ->
       n2c[ric_outstanding]--;
       ric_out = ric_outstanding; /* InstallOutbound: the switch */
       ric_esp = true;            /* RequireEsp (first rekey) */
       ric_outstanding = 0;
       completed++ }
  :: atomic { ric_outstanding != 0 && rt < R ->   /* timeout: retransmit the same REKEY */
       rt++; send_rekey(ric_outstanding) }
  :: atomic { ric_outstanding != 0 && rt == R && INFLIGHT(ric_outstanding) == 0 ->
       /* give up: the epoch is abandoned, its inbound SA is kept (the node may use it) */
       gave_up[ric_outstanding] = true; ric_outstanding = 0; gaveup++ }
  :: atomic { ric_outstanding != 0 && rt == R && INFLIGHT(ric_outstanding) != 0 && early < EARLYMAX ->
       /* give up early: the node is slow, its outcome may still come */
       early++; gave_up[ric_outstanding] = true; ric_outstanding = 0; gaveup++ }
  RIC_LATE(1)
  RIC_LATE(2)
  RIC_LATE(3)
  /* the end: nothing in flight and the node's fallback (a timer) has fired if it is due */
  :: atomic { ric_outstanding == 0 && e == MAXE && INFLIGHT(1) + INFLIGHT(2) + INFLIGHT(3) == 0 && !FALLBACK -> break }
  od;
  /* P4: unless more than R messages were lost, the link does not end stuck: either the RIC
   * sends under an SA the node holds, or the node is in bootstrap (the RIC's next REKEY, in
   * clear, gets through). Without early give-ups and bootstrap fallbacks, every rekey up to
   * the last completes. */
  assert(losses > R || !node_esp || (ric_out != 0 && node_in[ric_out]));
  assert(losses > R || early > 0 || fellback > 0 || ric_out == MAXE);
  ric_finished = true
}

/* MAXE is 3: the per-epoch choices below are written out (no `select`, so that weak fairness
 * on processes is enough for P5). */
#if MAXE != 3
#error "the model enumerates epochs 1..3"
#endif

inline node_rekey(e) {
  if
  :: e == node_applied -> n2c[e]++          /* retransmission: the cached outcome */
  :: e > node_applied ->
       assert(e > last_applied);            /* P2 */
       last_applied = e;
       node_in[e] = true;                   /* InstallInbound */
       node_out = e;                        /* InstallOutbound: the switch */
       if
       :: !node_esp -> node_esp = true; node_boot = e   /* RequireEsp (bootstrap) */
       :: else -> skip
       fi;
       node_applied = e;
#ifdef BROKEN_EARLY_DELETE
       x = 1;
       do
       :: x < e -> node_in[x] = false; x++
       :: else -> break
       od;
#endif
       n2c[e]++                             /* signed Success outcome */
  :: e < node_applied -> skip               /* ReplayedEpoch: refused, nothing changes */
  fi
}

#define NODE_RX(k) :: atomic { c2n[k] > 0 -> c2n[k]--; node_rekey(k) } \
  :: atomic { c2n_plain[k] > 0 -> c2n_plain[k]--; \
       if \
       :: node_esp -> skip   /* dropped by the node's ESP-required policy */ \
       :: else -> node_rekey(k) \
       fi }

active proctype Node() {
  byte x;
end:
  do
  NODE_RX(1)
  NODE_RX(2)
  NODE_RX(3)
#ifndef NO_BOOTSTRAP_REPAIR
  :: atomic { FALLBACK ->
       x = 1;
       do
       :: x < E -> node_in[x] = false; x++
       :: else -> break
       od;
       node_out = 0; node_esp = false; node_boot = 0; fellback++ }
#endif
  od
}

/* Old SAs: the RIC deletes inbound SAs older than its outbound after grace; the node deletes
 * an inbound SA once a packet arrived under a newer one (evidence) and grace has passed. */
#define RIC_GC(k) :: atomic { ric_in[k] && k < ric_out && d_n2r[k] == 0 -> ric_in[k] = false }
#define NODE_GC(k, j) :: atomic { node_in[k] && evidence[j] && d_r2n[k] == 0 -> node_in[k] = false }

active proctype Gc() {
end:
  do
  RIC_GC(1)
  RIC_GC(2)
  NODE_GC(1, 2)
  NODE_GC(1, 3)
  NODE_GC(2, 3)
  od
}

#define LOSE(k) \
  :: atomic { losses < LOSSMAX && c2n[k] > 0 -> c2n[k]--; losses++ } \
  :: atomic { losses < LOSSMAX && c2n_plain[k] > 0 -> c2n_plain[k]--; losses++ } \
  :: atomic { losses < LOSSMAX && n2c[k] > 0 -> n2c[k]--; losses++ } \
  :: atomic { n2c[k] > 0 && k != ric_outstanding && !ADOPTABLE(k) -> n2c[k]--; \
       if \
       :: gave_up[k] -> gave_up[k] = false; superseded++   /* late, after a newer switch */ \
       :: else -> skip                                        /* stale: ignored */ \
       fi }

active proctype Net() {
end:
  do
  LOSE(1)
  LOSE(2)
  LOSE(3)
  od
}

#define RIC_RX(k) :: atomic { d_n2r[k] > 0 -> d_n2r[k]--; inflight_n2r--; assert(ric_in[k]) }    /* P3 */
#define NODE_RX_DATA(k) :: atomic { d_r2n[k] > 0 -> d_r2n[k]--; inflight_r2n--; assert(node_in[k]); evidence[k] = true }

active proctype RicData() {
end:
  do
  :: atomic { inflight_r2n < DCAP ->
       if
       :: ric_esp -> assert(ric_out > 0); d_r2n[ric_out]++      /* P1 */
       :: else -> assert(ric_out == 0); d_r2n[0]++              /* bootstrap: plaintext */
       fi;
       inflight_r2n++ }
  :: atomic { d_n2r[0] > 0 -> d_n2r[0]--; inflight_n2r-- }     /* plaintext (bootstrap only) */
  RIC_RX(1)
  RIC_RX(2)
  RIC_RX(3)
  od
}

active proctype NodeData() {
end:
  do
  :: atomic { inflight_n2r < DCAP ->
       if
       :: node_esp -> assert(node_out > 0); d_n2r[node_out]++   /* P1 */
       :: else -> assert(node_out == 0); d_n2r[0]++
       fi;
       inflight_n2r++ }
  :: atomic { d_r2n[0] > 0 -> d_r2n[0]--; inflight_r2n-- }
  NODE_RX_DATA(1)
  NODE_RX_DATA(2)
  NODE_RX_DATA(3)
  od
}

ltl finishes { <> ric_finished }
