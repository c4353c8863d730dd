// The student page the relay serves at `/room/{room}?token=…`.

import { createApp } from "vue";
import { applyLanguage, i18n } from "../i18n";
import "../styles/base.css";
import { initialLanguage } from "./language";
import StudentApp from "./StudentApp.vue";

applyLanguage(initialLanguage());
createApp(StudentApp).use(i18n).mount("#app");
