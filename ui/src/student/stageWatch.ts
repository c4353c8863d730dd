// Watching classmates on stage over WHEP: one `Player` (one receive-only peer connection,
// the teacher's back-off and rebuilds) per classmate, started and stopped to match the list
// `stagePeers.ts` decides, and their audio level read from `getStats()` every half second
// for the speaking cue.

import { Player, type PlaybackStats } from "./player";
import type { PeerId } from "./protocol";
import { audioLevel, audioTotals, type AudioTotals, type StagePlayback } from "./stagePeers";

/** How often the audio level of each live watch is read. */
export const LEVEL_POLL_MS = 500;

/** What `window.__lecternStudent.stats()` reports for each watched classmate. */
export interface StagePeerStats extends PlaybackStats {
  peer: PeerId;
}

export interface StageWatchOptions {
  /** `…/whep/{room}?peer={peer}` */
  url(peer: PeerId): string;
  token: string;
  fetch?: typeof fetch;
  createPeerConnection?: () => RTCPeerConnection;
  createStream?: () => MediaStream;
  random?: () => number;
}

export interface StageWatchEvents {
  /** Every watch's status, error and level, after any of them changed. */
  changed(watching: ReadonlyMap<PeerId, StagePlayback>): void;
  /** A classmate's stream to show, as its tracks arrive; null when their watch stops. */
  stream(peer: PeerId, stream: MediaStream | null): void;
}

interface Watch {
  player: Player;
  playback: StagePlayback;
  /** The audio totals at the last poll, to take the level between two polls. */
  totals: AudioTotals | null;
}

export class StageWatch {
  /** In the order the watches started. */
  private readonly watches = new Map<PeerId, Watch>();
  private pollTimer: ReturnType<typeof setInterval> | null = null;
  private polling = false;

  constructor(
    private readonly options: StageWatchOptions,
    private readonly events: StageWatchEvents,
  ) {}

  /** Watches exactly `peers`: starts whoever is new, stops whoever is gone. */
  watch(peers: readonly PeerId[]): void {
    let changed = false;
    for (const [peer, watch] of [...this.watches]) {
      if (peers.includes(peer)) continue;
      this.watches.delete(peer);
      watch.player.stop();
      changed = true;
    }
    for (const peer of peers) {
      if (this.watches.has(peer)) continue;
      this.start(peer);
      changed = true;
    }
    this.schedulePoll();
    if (changed) this.emit();
  }

  /** Peers watched now, in the order their watches started. */
  get peers(): PeerId[] {
    return [...this.watches.keys()];
  }

  /** Stops every watch and ends its session on the relay. */
  stop(): void {
    this.watch([]);
  }

  /** For `pagehide`: ends every session with a request that outlives the page. */
  leave(): void {
    for (const watch of this.watches.values()) watch.player.leave();
    this.watches.clear();
    this.schedulePoll();
  }

  /** Counters of every watch, in the order given (by default, the order they started). */
  async stats(order: readonly PeerId[] = this.peers): Promise<StagePeerStats[]> {
    const watched = order.flatMap((peer) => {
      const watch = this.watches.get(peer);
      return watch ? [{ peer, player: watch.player }] : [];
    });
    return Promise.all(watched.map(async ({ peer, player }) => ({ peer, ...(await player.stats()) })));
  }

  private start(peer: PeerId): void {
    // The player's events only come after `start()`, by when `watch` is in the map.
    const current = () => this.watches.get(peer) === watch;
    const update = (next: Partial<StagePlayback>) => {
      if (!current()) return;
      watch.playback = { ...watch.playback, ...next };
      this.emit();
    };
    const player = new Player(
      {
        url: this.options.url(peer),
        token: this.options.token,
        fetch: this.options.fetch,
        createPeerConnection: this.options.createPeerConnection,
        createStream: this.options.createStream,
        random: this.options.random,
      },
      {
        status: (status) => {
          // A new connection counts its audio from zero.
          if (status !== "live") watch.totals = null;
          update(status === "live" ? { status } : { status, level: 0 });
          this.schedulePoll();
        },
        error: (error) => update({ error }),
        stream: (stream) => {
          // A stopped watch has left the map when its stream ends: say so all the same.
          if (current() || stream === null) this.events.stream(peer, stream);
        },
      },
    );
    const watch: Watch = { player, playback: { status: "idle", error: null, level: 0 }, totals: null };
    this.watches.set(peer, watch);
    player.start();
  }

  private emit(): void {
    this.events.changed(new Map([...this.watches].map(([peer, w]) => [peer, w.playback])));
  }

  /** Polls levels while some watch is live, and only then. */
  private schedulePoll(): void {
    const live = [...this.watches.values()].some((w) => w.playback.status === "live");
    if (live && this.pollTimer === null) {
      this.pollTimer = setInterval(() => void this.poll(), LEVEL_POLL_MS);
    } else if (!live && this.pollTimer !== null) {
      clearInterval(this.pollTimer);
      this.pollTimer = null;
    }
  }

  private async poll(): Promise<void> {
    // A slow getStats must not pile polls up.
    if (this.polling) return;
    this.polling = true;
    try {
      let changed = false;
      for (const [peer, watch] of [...this.watches]) {
        if (watch.playback.status !== "live") continue;
        let totals: AudioTotals;
        try {
          totals = audioTotals(await watch.player.report());
        } catch {
          continue;
        }
        if (this.watches.get(peer) !== watch || watch.playback.status !== "live") continue;
        const level = Math.round(audioLevel(watch.totals, totals) * 100) / 100;
        watch.totals = totals;
        if (level !== watch.playback.level) {
          watch.playback = { ...watch.playback, level };
          changed = true;
        }
      }
      if (changed) this.emit();
    } finally {
      this.polling = false;
    }
  }
}
