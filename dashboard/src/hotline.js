// The hotline panel: threads between duty officers, their messages (rendered by the service
// in the party's language) and acknowledgements. API (src/skysep/service/_hotline.py):
//   GET  /v1/threads                          the party's threads, most recently active first
//   GET  /v1/threads/{id}                     a thread with its messages
//   POST /v1/threads                          {party, subject}: open a direct thread
//   POST /v1/threads/{id}/messages            {message: {kind: "free_text", text}}
//   POST /v1/threads/{id}/messages/{mid}/ack  acknowledge a message
// and WebSocket pushes {"type": "message"} and {"type": "escalation"}.

const THREADS_SHOWN = 6;
const MESSAGES_SHOWN = 8;

export class Hotline {
  constructor(api, me, body, helpers) {
    this.api = api;
    this.me = me;
    this.body = body;
    this.h = helpers;
    this.available = null; // unknown until the first request
    this.threads = [];
    this.details = new Map(); // thread id -> ThreadDetail
    this.refreshing = null;
    this.again = false;
    this.error = "";
  }

  async start() {
    await this.refresh();
  }

  /** Reload the threads (one reload at a time; a request during one runs once after it). */
  async refresh() {
    if (this.refreshing) {
      this.again = true;
      return this.refreshing;
    }
    this.refreshing = (async () => {
      do {
        this.again = false;
        await this.load();
      } while (this.again);
      this.refreshing = null;
    })();
    return this.refreshing;
  }

  async load() {
    try {
      this.threads = await this.api.get("/v1/threads?limit=50");
      this.available = true;
      const shown = this.threads.slice(0, THREADS_SHOWN);
      const details = await Promise.all(shown.map((th) => this.api.get(`/v1/threads/${th.id}`)));
      this.details = new Map(details.map((d) => [d.thread.id, d]));
    } catch (error) {
      if (error.status === 404) this.available = false;
      else console.error(error);
    }
    this.render();
  }

  onMessage() {
    this.refresh();
  }

  async acknowledge(threadId, messageId) {
    try {
      await this.api.post(`/v1/threads/${threadId}/messages/${messageId}/ack`);
      this.error = "";
    } catch (error) {
      this.error = error.message;
    }
    await this.refresh();
  }

  async send(threadId, text) {
    try {
      await this.api.post(`/v1/threads/${threadId}/messages`, {
        message: { kind: "free_text", text },
      });
      this.error = "";
    } catch (error) {
      this.error = error.message;
    }
    await this.refresh();
  }

  async open(party, subject) {
    try {
      await this.api.post("/v1/threads", { party, subject });
      this.error = "";
    } catch (error) {
      this.error = error.message;
    }
    await this.refresh();
  }

  render() {
    const { el, t } = this.h;
    if (this.available === false) {
      this.body.replaceChildren(el("p", { class: "empty" }, t("hotline.unavailable")));
      return;
    }
    const parts = [];
    if (this.error) parts.push(el("p", { class: "error", role: "alert" }, this.error));
    if (!this.threads.length) parts.push(el("p", { class: "empty" }, t("hotline.none")));
    for (const thread of this.threads.slice(0, THREADS_SHOWN)) {
      parts.push(this.renderThread(thread, this.details.get(thread.id)));
    }
    parts.push(this.renderNewThread());
    this.body.replaceChildren(...parts);
  }

  renderThread(thread, detail) {
    const { el, t, utc } = this.h;
    const messages = detail ? detail.messages.slice(-MESSAGES_SHOWN) : [];
    const input = el("input", {
      type: "text",
      maxlength: "2000",
      placeholder: t("hotline.placeholder"),
      "aria-label": t("hotline.placeholder"),
    });
    const compose = el(
      "form",
      {
        class: "compose",
        onsubmit: (event) => {
          event.preventDefault();
          const text = input.value.trim();
          if (text) this.send(thread.id, text);
        },
      },
      input,
      el("button", { type: "submit" }, t("hotline.send")),
    );
    return el(
      "section",
      {
        class: `thread${thread.flagged ? " flagged" : ""}`,
        dataset: { threadId: String(thread.id), awaitingMe: String(thread.awaiting_me) },
      },
      el("h3", {}, thread.subject, thread.awaiting_me ? el("span", { class: "badge open" }, ` ${thread.awaiting_me}`) : null),
      el(
        "ul",
        {},
        ...messages.map((m) => {
          const mine = m.sender === this.me.party;
          const owe = m.awaiting.includes(this.me.party);
          const acked = m.acks.some((a) => a.party === this.me.party);
          return el(
            "li",
            {
              class: `message ${mine ? "mine" : "theirs"}${m.overdue ? " flash" : ""}`,
              dataset: { messageId: String(m.id), kind: m.kind },
            },
            el("div", { class: "meta" }, `${t("hotline.from", { party: m.sender })} · ${utc(m.created_at)}`),
            el("div", { class: "text" }, m.text),
            owe
              ? el(
                  "div",
                  { class: "needs-ack" },
                  t("hotline.needs_ack"),
                  " ",
                  el(
                    "button",
                    { type: "button", class: "ack", onclick: () => this.acknowledge(thread.id, m.id) },
                    t("hotline.ack"),
                  ),
                )
              : null,
            acked ? el("div", { class: "acked" }, `✓ ${t("hotline.acked")}`) : null,
          );
        }),
      ),
      compose,
    );
  }

  renderNewThread() {
    const { el, t } = this.h;
    const to = el("input", { type: "text", size: "8", "aria-label": t("hotline.to"), placeholder: t("hotline.to") });
    const subject = el("input", { type: "text", "aria-label": t("hotline.subject"), placeholder: t("hotline.subject") });
    return el(
      "details",
      { class: "new-thread" },
      el("summary", {}, t("hotline.new_thread")),
      el(
        "form",
        {
          class: "compose",
          onsubmit: (event) => {
            event.preventDefault();
            if (to.value.trim() && subject.value.trim()) this.open(to.value.trim(), subject.value.trim());
          },
        },
        to,
        subject,
        el("button", { type: "submit" }, t("hotline.send")),
      ),
    );
  }
}
