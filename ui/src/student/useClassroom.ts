// Wires signaling, playback and the page together: the one place with side effects.

import { computed, onScopeDispose, ref, shallowRef, watch } from "vue";
import { useBoard } from "../board/useBoard";
import {
  pageUrl,
  signalingProbeUrl,
  signalingUrl,
  whepPeerUrl,
  whepUrl,
  whipUrl,
  type JoinLink,
  type Origin,
} from "./link";
import { Player, type PlaybackStats } from "./player";
import { chatLength, MAX_CHAT_CHARS, type ApiError, type PeerId, type ServerMessage } from "./protocol";
import { Publisher, type PublishStats } from "./publisher";
import { initialRoomState, invitationAnswered, isOnStage, me, reduce, teacherPublisher, type RoomState } from "./room";
import { askWhyRefused, Signaling } from "./signaling";
import { MIC_ON, micReduce, shouldPublish, type MicEvent, type MicState } from "./stage";
import { stagePeers, stageTiles, watchedPeers, type StagePlayback } from "./stagePeers";
import { StageWatch, type StagePeerStats } from "./stageWatch";
import {
  studentState,
  type PlayerStatus,
  type PublishStatus,
  type SignalingStatus,
  type StudentState,
} from "./status";
import type { Capture } from "./whip";

/** How long a refusal from the relay (a chat too fast, say) stays on screen. */
const NOTICE_MS = 6000;

export interface StudentStats extends PlaybackStats {
  state: StudentState;
  /** This page's own publish while on stage (zeros and `none` otherwise). */
  publish: PublishStats & { state: PublishStatus };
  /** Each classmate on stage this page watches, in order of arrival on stage. */
  stage: StagePeerStats[];
}

export function useClassroom(link: JoinLink, origin: Origin) {
  const room = shallowRef<RoomState>(initialRoomState);
  const signalingStatus = ref<SignalingStatus>("idle");
  const playerStatus = ref<PlayerStatus>("idle");
  /** The link was refused: nothing on this page can work until a new one is opened. */
  const linkError = ref<ApiError | null>(null);
  const playerError = ref<ApiError | null>(null);
  /** A refusal of something the student did, shown for a moment. */
  const notice = ref<ApiError | null>(null);
  const joined = ref(false);
  const soundBlocked = ref(false);
  /** The hand as the student last set it, until the relay confirms or refuses. */
  const handPending = ref<boolean | null>(null);
  const video = shallowRef<HTMLVideoElement | null>(null);
  const stream = shallowRef<MediaStream | null>(null);
  // On stage: this page's own camera and microphone.
  const publishStatus = ref<PublishStatus>("idle");
  const publishError = ref<ApiError | null>(null);
  /** What the camera and microphone gave (null when not publishing). */
  const captured = shallowRef<Capture | null>(null);
  /** The student's own picture, for the self-view. */
  const selfStream = shallowRef<MediaStream | null>(null);
  const mic = shallowRef<MicState>(MIC_ON);
  /** "Leave stage" was pressed; cleared once signaling says this page is off stage. */
  const leaving = ref(false);
  // Classmates on stage: their watches, and the `<video>` each plays in (with its sound).
  const stagePlayback = shallowRef<ReadonlyMap<PeerId, StagePlayback>>(new Map());
  const stageStreams = new Map<PeerId, MediaStream>();
  const stageVideos = new Map<PeerId, HTMLVideoElement>();
  /** Classmates the browser would only play muted until a tap. */
  const stageMuted = shallowRef<ReadonlySet<PeerId>>(new Set());

  const joinable = link.room !== null && link.token !== null ? { room: link.room, token: link.token } : null;
  const linkOk = joinable !== null;
  let noticeTimer: ReturnType<typeof setTimeout> | null = null;

  function showNotice(error: ApiError): void {
    notice.value = error;
    if (noticeTimer !== null) clearTimeout(noticeTimer);
    noticeTimer = setTimeout(() => (notice.value = null), NOTICE_MS);
  }

  // The whiteboard rides on the same socket; observers' tokens have no board.
  const board = useBoard(
    (m) => signaling?.send(m) ?? false,
    (peer) => room.value.roster.find((p) => p.id === peer)?.name ?? peer,
  );

  function received(message: ServerMessage): void {
    if (board.receive(message)) return;
    const before = room.value;
    room.value = reduce(before, message);
    if (message.type === "participant" && message.participant.id === before.you) handPending.value = null;
    if (message.type === "welcome") {
      handPending.value = null;
      if (message.you.role !== "observer") board.welcomed(message.you.id, message.you.role === "teacher");
      // The leave was lost with the old connection: ask again.
      if (leaving.value && isOnStage(room.value)) signaling?.send({ type: "leave_stage" });
    }
    // Only a page that is on stage has a microphone to mute.
    if (message.type === "mute_requested" && isOnStage(room.value)) {
      micEvent({ type: "teacher", muted: message.muted });
    }
    if (message.type === "error") {
      handPending.value = null;
      // Before the welcome, Signaling decides whether the link itself was refused.
      if (before.welcomed) showNotice({ code: message.code, message: message.message });
    }
  }

  const signaling =
    joinable &&
    new Signaling(
      {
        url: signalingUrl(origin, joinable.room, joinable.token),
        probe: () =>
          askWhyRefused(
            (input, init) => fetch(input, init),
            signalingProbeUrl(origin, joinable.room, joinable.token),
            pageUrl(origin, joinable.room, joinable.token),
          ),
      },
      {
        message: received,
        status: (s) => {
          signalingStatus.value = s;
          if (s !== "open") board.connectionLost();
        },
        fatal: (e) => (linkError.value = e),
      },
    );

  const player =
    joinable &&
    new Player(
      { url: whepUrl(origin, joinable.room), token: joinable.token },
      {
        status: (s) => (playerStatus.value = s),
        stream: (s) => (stream.value = s),
        error: (e) => (playerError.value = e),
      },
    );

  const publisher =
    joinable &&
    new Publisher(
      { url: whipUrl(origin, joinable.room), token: joinable.token },
      {
        status: (s) => (publishStatus.value = s),
        captured: (c) => (captured.value = c),
        local: (s) => (selfStream.value = s),
        error: (e) => (publishError.value = e),
      },
    );

  const stageWatch =
    joinable &&
    new StageWatch(
      { url: (peer) => whepPeerUrl(origin, joinable.room, peer), token: joinable.token },
      {
        changed: (watching) => (stagePlayback.value = watching),
        stream: (peer, s) => {
          if (s) stageStreams.set(peer, s);
          else stageStreams.delete(peer);
          showClassmate(peer);
        },
      },
    );

  function micEvent(event: MicEvent): void {
    mic.value = micReduce(mic.value, event);
    publisher?.setMicEnabled(mic.value.on);
  }

  const teacher = computed(() => teacherPublisher(room.value));
  const you = computed(() => me(room.value));
  const onStage = computed(() => isOnStage(room.value));
  const myHand = computed(() => handPending.value ?? you.value?.hand ?? false);
  const canTalk = computed(
    () => signalingStatus.value === "open" && you.value !== null && you.value.role !== "observer",
  );

  const state = computed<StudentState>(() =>
    studentState({
      linkOk,
      signaling: signalingStatus.value,
      welcomed: room.value.welcomed,
      fatal: linkError.value !== null,
      teacherLive: teacher.value !== null,
      joined: joined.value,
      player: playerStatus.value,
    }),
  );

  // Watch the teacher only while the student has joined and the teacher publishes.
  const shouldPlay = computed(
    () =>
      joined.value &&
      teacher.value !== null &&
      linkError.value === null &&
      signalingStatus.value !== "replaced" &&
      signalingStatus.value !== "stopped",
  );
  watch(shouldPlay, (play) => (play ? player?.start() : player?.stop()));

  // Publish the student's camera and microphone exactly while on stage.
  const shouldSend = computed(() =>
    shouldPublish({
      onStage: onStage.value,
      leaving: leaving.value,
      signaling: signalingStatus.value,
      linkRefused: linkError.value !== null,
    }),
  );
  watch(shouldSend, (send) => {
    if (send) {
      micEvent({ type: "stage_entered" });
      publisher?.start();
    } else {
      publisher?.stop();
    }
  });
  watch(onStage, (on) => {
    if (!on) leaving.value = false;
  });

  // Classmates on stage, seen and heard like the teacher: after the start button, each one
  // who publishes watched on their own connection. Synchronous, so a classmate who stops
  // and starts publishing again within one task is still watched afresh.
  const classmates = computed(() =>
    stagePeers({
      room: room.value,
      joined: joined.value,
      signaling: signalingStatus.value,
      linkRefused: linkError.value !== null,
    }),
  );
  watch(
    () => watchedPeers(classmates.value),
    (peers) => stageWatch?.watch(peers),
    { flush: "sync" },
  );
  const stageStrip = computed(() => stageTiles(classmates.value, stagePlayback.value));
  const stageSoundBlocked = computed(() => stageMuted.value.size > 0);

  watch([stream, video], ([s, v]) => {
    if (!v) return;
    if (v.srcObject !== s) v.srcObject = s;
    if (s) void playWithSound(v, (blocked) => (soundBlocked.value = blocked));
  });

  /**
   * Plays with sound, or muted when the browser wants a tap first (`blocked(true)`; the
   * picture shows meanwhile). The first `play()` runs before any await, so inside a click
   * it counts as the click's.
   */
  async function playWithSound(v: HTMLVideoElement, blocked: (blocked: boolean) => void): Promise<void> {
    v.muted = false;
    try {
      await v.play();
      blocked(false);
    } catch (e) {
      // AbortError: a newer stream took over. Anything but a refused autoplay is not ours.
      if (!(e instanceof DOMException) || e.name !== "NotAllowedError") return;
      blocked(true);
      v.muted = true;
      v.play().catch(() => undefined);
    }
  }

  function classmateMuted(peer: PeerId, muted: boolean): void {
    if (stageMuted.value.has(peer) === muted) return;
    const next = new Set(stageMuted.value);
    if (muted) next.add(peer);
    else next.delete(peer);
    stageMuted.value = next;
  }

  /** Puts a classmate's stream in their tile's `<video>` and plays it, once both exist. */
  function showClassmate(peer: PeerId): void {
    const v = stageVideos.get(peer);
    if (!v) return;
    const s = stageStreams.get(peer) ?? null;
    if (v.srcObject !== s) v.srcObject = s;
    if (s) void playWithSound(v, (muted) => classmateMuted(peer, muted));
    else classmateMuted(peer, false);
  }

  /** A tile's `<video>` appeared (or went, with null). */
  function stageVideo(peer: PeerId, element: HTMLVideoElement | null): void {
    if (element) {
      stageVideos.set(peer, element);
      showClassmate(peer);
    } else {
      stageVideos.delete(peer);
      classmateMuted(peer, false);
    }
  }

  /** The start button. Runs inside the click, so the browser lets the video play with sound. */
  function join(): void {
    joined.value = true;
    const v = video.value;
    if (v) {
      v.muted = false;
      // Unlocks the element for sound on browsers that want play() inside a gesture (iOS).
      v.play().catch(() => undefined);
    }
  }

  /** The "tap to enable sound" buttons, the teacher's and the strip's: inside a click. */
  function enableSound(): void {
    const v = video.value;
    if (v && soundBlocked.value) {
      soundBlocked.value = false;
      void playWithSound(v, (blocked) => (soundBlocked.value = blocked));
    }
    for (const peer of stageMuted.value) {
      const tile = stageVideos.get(peer);
      if (tile) void playWithSound(tile, (muted) => classmateMuted(peer, muted));
    }
  }

  /** Sends a chat line; false when it is empty, too long, or there is no connection. */
  function sendChat(text: string): boolean {
    const trimmed = text.trim();
    const n = chatLength(trimmed);
    if (n === 0 || n > MAX_CHAT_CHARS || !canTalk.value) return false;
    return signaling?.send({ type: "chat", text: trimmed }) ?? false;
  }

  function toggleHand(): void {
    const raised = !myHand.value;
    if (signaling?.send({ type: "raise_hand", raised })) handPending.value = raised;
  }

  function answerInvite(accept: boolean): void {
    signaling?.send({ type: "answer_invite", accept });
    room.value = invitationAnswered(room.value);
  }

  function leaveStage(): void {
    if (signaling?.send({ type: "leave_stage" })) leaving.value = true;
  }

  function toggleMic(): void {
    micEvent({ type: "toggle" });
  }

  /** "Unmute" on the teacher's notice: the student's own decision, inside a click. */
  function unmuteMic(): void {
    micEvent({ type: "unmute" });
  }

  function dismissMuteNotice(): void {
    micEvent({ type: "dismiss" });
  }

  /** Captures and publishes again after it failed for good (a "try again" button). */
  function retryPublish(): void {
    if (!shouldSend.value || !publisher) return;
    publisher.stop();
    publisher.start();
  }

  /** Starts playback again after it failed for good (a "try again" button). */
  function retryPlayback(): void {
    if (!shouldPlay.value || !player) return;
    player.stop();
    player.start();
  }

  async function stats(): Promise<StudentStats> {
    const playback = player
      ? await player.stats()
      : { framesDecoded: 0, audioEnergy: 0, connectionState: "none" as const };
    const publish = publisher
      ? await publisher.stats()
      : { connectionState: "none" as const, framesEncoded: 0, audioPacketsSent: 0 };
    const stage = stageWatch ? await stageWatch.stats(watchedPeers(classmates.value)) : [];
    return { ...playback, state: state.value, publish: { ...publish, state: publishStatus.value }, stage };
  }

  function leave(): void {
    player?.leave();
    publisher?.leave();
    stageWatch?.leave();
    signaling?.stop();
  }

  signaling?.start();
  onScopeDispose(() => {
    leave();
    if (noticeTimer !== null) clearTimeout(noticeTimer);
  });

  return {
    linkOk,
    room,
    board,
    state,
    you,
    teacher,
    onStage,
    myHand,
    canTalk,
    joined,
    soundBlocked,
    playerStatus,
    signalingStatus,
    linkError,
    playerError,
    notice,
    video,
    publishStatus,
    publishError,
    captured,
    selfStream,
    mic,
    stageStrip,
    stageSoundBlocked,
    stageVideo,
    join,
    enableSound,
    sendChat,
    toggleHand,
    answerInvite,
    leaveStage,
    toggleMic,
    unmuteMic,
    dismissMuteNotice,
    retryPublish,
    retryPlayback,
    stats,
    leave,
  };
}

export type Classroom = ReturnType<typeof useClassroom>;

/** What end-to-end tests read from the page (`window.__lecternStudent`). */
export interface StudentTestApi {
  /** Playback and publish counters from `getStats()` (0 when absent) and the page's state. */
  stats(): Promise<StudentStats>;
}

declare global {
  interface Window {
    __lecternStudent?: StudentTestApi;
  }
}

export function exposeForTests(classroom: Classroom): void {
  window.__lecternStudent = { stats: () => classroom.stats() };
}
