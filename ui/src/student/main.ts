// The student page the relay serves at `/room/{room}?token=…`. A class link (shared by
// the whole class) first asks the student's name and trades the link for a token of
// their own; a personal token goes straight in.

import { createApp } from "vue";
import { applyLanguage, i18n } from "../i18n";
import "../styles/base.css";
import JoinGate from "./components/JoinGate.vue";
import { type Joined, type KeyValue, readClaims, saveJoin, savedJoin } from "./join";
import { initialLanguage } from "./language";
import { parseJoinLink } from "./link";
import StudentApp from "./StudentApp.vue";

applyLanguage(initialLanguage());

/** `localStorage`, or a store that keeps nothing where the browser refuses it. */
function browserStore(): KeyValue {
  try {
    return window.localStorage;
  } catch {
    return { getItem: () => null, setItem: () => {}, removeItem: () => {} };
  }
}

function startClass(token?: string): void {
  createApp(StudentApp, token ? { token } : {})
    .use(i18n)
    .mount("#app");
}

const link = parseJoinLink(location.pathname, location.search);
const claims = link.token ? readClaims(link.token) : null;
if (link.room !== null && link.token !== null && claims?.invite) {
  const { room, token } = link;
  const store = browserStore();
  const saved = savedJoin(store, room, token, Date.now() / 1000);
  if (saved) {
    startClass(saved.token);
  } else {
    const gate = createApp(JoinGate, {
      room,
      link: token,
      store,
      onJoined: (joined: Joined) => {
        saveJoin(store, room, token, joined);
        gate.unmount();
        startClass(joined.token);
      },
    }).use(i18n);
    gate.mount("#app");
  }
} else {
  startClass();
}
