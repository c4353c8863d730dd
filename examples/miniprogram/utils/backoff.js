// When to try again after something dropped (the signaling socket, a player, the pusher).
//
// 0.5 s, doubling up to 8 s; each delay is shortened at random by up to a fifth so that a
// classroom whose Wi-Fi blipped at once does not dial the relay again in lockstep.

const FIRST_MS = 500;
const CAP_MS = 8000;
const JITTER = 0.2;

/** The delay before retry number `attempt` (0 for the first), `random` in [0, 1). */
function backoffDelay(attempt, random) {
  const nominal = Math.min(CAP_MS, FIRST_MS * Math.pow(2, Math.min(Math.max(attempt, 0), 16)));
  return Math.round(nominal * (1 - JITTER * random));
}

module.exports = { backoffDelay };
