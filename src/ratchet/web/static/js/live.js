// The live feed: one WebSocket to /ws, reconnected with back-off; drives the indicator.

import { $ } from "./dom.js";

export class LiveFeed {
  constructor(onSnapshot, onUnauthorized) {
    this.onSnapshot = onSnapshot;
    this.onUnauthorized = onUnauthorized;
    this.socket = null;
    this.delay = 500;
    this.stopped = true;
    this.timer = null;
  }

  start() {
    this.stopped = false;
    this.connect();
  }

  stop() {
    this.stopped = true;
    clearTimeout(this.timer);
    if (this.socket) this.socket.close();
    this.socket = null;
    indicate("offline", "offline");
  }

  connect() {
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    indicate("connecting", "connecting…");
    const socket = new WebSocket(`${scheme}://${location.host}/ws`);
    this.socket = socket;
    let opened = false;
    socket.addEventListener("open", () => {
      opened = true;
      this.delay = 500;
      indicate("online", "live");
    });
    socket.addEventListener("message", (event) => {
      const message = JSON.parse(event.data);
      if (message.type === "snapshot") this.onSnapshot(message);
    });
    socket.addEventListener("close", (event) => {
      if (this.socket !== socket || this.stopped) return;
      indicate("offline", event.code === 4008 ? "too slow: reconnecting" : "offline");
      if (!opened && this.onUnauthorized) this.onUnauthorized();
      this.timer = setTimeout(() => this.connect(), this.delay);
      this.delay = Math.min(this.delay * 2, 10000);
    });
  }
}

function indicate(state, text) {
  const element = $("connection");
  element.className = `connection ${state}`;
  element.textContent = text;
  element.dataset.state = state;
}
