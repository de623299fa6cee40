// The MiniStudio review page: the film, its shots, and the decisions written to review.json.
// Every text from the render is set with textContent, never parsed as HTML.
"use strict";

(function () {
  const data = JSON.parse(document.getElementById("review-data").textContent);
  const served = location.protocol === "http:" || location.protocol === "https:";
  const film = document.getElementById("film");
  const cards = new Map(); // shot id -> its card element
  const blocks = new Map(); // shot id -> its timeline block
  let review = { version: 1, shots: {} };
  if (data.review && data.review.shots) review.shots = Object.assign({}, data.review.shots);

  // -- small DOM helpers ------------------------------------------------------------------
  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attrs || {})) {
      if (value === null || value === undefined || value === false) continue;
      if (name === "class") node.className = value;
      else if (name === "text") node.textContent = String(value);
      else if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
      else node.setAttribute(name, value === true ? "" : String(value));
    }
    for (const child of children) if (child) node.append(child);
    return node;
  }
  const money = (usd) => "$" + Number(usd || 0).toFixed(2);
  const secs = (s) => Number(s).toFixed(s < 10 ? 2 : 1) + " s";
  function after(s) {
    // time since the first job's first event: "+4.2 s", "+3 min 05 s", "+1 h 02 min"
    if (s < 60) return "+" + s.toFixed(1) + " s";
    if (s < 3600) return "+" + Math.floor(s / 60) + " min " + String(Math.floor(s % 60)).padStart(2, "0") + " s";
    return "+" + Math.floor(s / 3600) + " h " + String(Math.floor((s % 3600) / 60)).padStart(2, "0") + " min";
  }
  function clock(s) {
    const m = Math.floor(s / 60);
    const rest = (s - m * 60).toFixed(1).padStart(4, "0");
    return m + ":" + rest;
  }
  function clip(src, label) {
    const video = el("video", { src: src, controls: true, preload: "metadata", muted: true });
    video.muted = true;
    video.playsInline = true;
    // show a frame from inside the clip (its first may be black); play from its start
    video.addEventListener("loadedmetadata", () => {
      if (!video.played.length && video.currentTime === 0) video.currentTime = Math.min(0.5, video.duration / 2);
    }, { once: true });
    video.addEventListener("play", () => { video.currentTime = 0; }, { once: true });
    return el("figure", { class: "clip" }, video, el("figcaption", { text: label }));
  }

  // -- the header and the film ------------------------------------------------------------
  document.title = "Review: " + data.title;
  document.getElementById("title").textContent = data.title;
  const failing = data.shots.filter((s) => s.qc.some((v) => !v.passed)).length;
  const failed = data.shots.filter((s) => s.error || s.slate).length;
  document.getElementById("facts").textContent = [
    data.shots.length + " shots",
    clock(data.duration),
    data.width + "x" + data.height + " at " + data.fps + " fps",
    money(data.cost) + " spent",
    failing ? failing + " with a failing check" : "every check passed",
    failed ? failed + " failed (a slate in the film)" : "",
  ].filter(Boolean).join(" · ");
  film.src = data.film;
  if (data.previz_film) {
    document.getElementById("facts").append(
      " · ",
      el("a", { href: data.previz_film, target: "_blank", rel: "noopener", text: "the previz film" }),
    );
  }

  // -- the timeline: one block per shot, as wide as the shot lasts -----------------------
  const timeline = document.getElementById("timeline");
  const playhead = el("div", { class: "playhead" });
  for (const shot of data.shots) {
    const bad = shot.qc.some((v) => !v.passed) || shot.error;
    const block = el(
      "button",
      {
        type: "button",
        class: "block" + (bad ? " bad" : ""),
        "data-shot": shot.id,
        title: shot.id + " · " + clock(shot.start) + " · " + secs(shot.duration),
        onclick: () => jump(shot),
      },
      el("span", { class: "block-id", text: shot.id }),
      el("span", { class: "block-mark" }),
    );
    block.style.flexGrow = String(Math.max(shot.duration, 0.01));
    blocks.set(shot.id, block);
    timeline.append(block);
  }
  timeline.append(playhead);
  const ruler = document.getElementById("ruler");
  const step = data.duration > 120 ? 30 : data.duration > 40 ? 10 : data.duration > 10 ? 5 : 1;
  for (let t = 0; t <= data.duration; t += step) {
    const tick = el("span", { text: Math.floor(t / 60) + ":" + String(t % 60).padStart(2, "0") });
    tick.style.left = (100 * t) / data.duration + "%";
    ruler.append(tick);
  }
  function current() {
    const t = film.currentTime;
    return data.shots.find((s) => t >= s.start && t < s.start + s.duration);
  }
  film.addEventListener("timeupdate", () => {
    playhead.style.left = (100 * film.currentTime) / Math.max(data.duration, 0.01) + "%";
    const now = current();
    for (const [id, block] of blocks) block.classList.toggle("playing", !!now && now.id === id);
  });
  function jump(shot) {
    film.currentTime = shot.start;
    select(shot.id);
  }
  function select(id) {
    for (const [other, card] of cards) card.classList.toggle("selected", other === id);
    for (const [other, block] of blocks) block.classList.toggle("selected", other === id);
  }

  // -- the shot cards -------------------------------------------------------------------
  function checks(verdicts) {
    if (!verdicts.length) return el("p", { class: "muted", text: "No checks ran." });
    const table = el("table", { class: "checks" });
    for (const v of verdicts) {
      table.append(
        el(
          "tr",
          { class: v.passed ? "pass" : "fail" },
          el("td", { class: "verdict", text: v.passed ? "pass" : "FAIL" }),
          el("td", { class: "check", text: v.check }),
          el("td", { text: v.reason }),
        ),
      );
    }
    return table;
  }
  function facts(pairs) {
    const list = el("dl", { class: "facts" });
    for (const [name, value] of pairs) {
      if (value === null || value === undefined || value === "") continue;
      list.append(el("dt", { text: name }), el("dd", { text: value }));
    }
    return list;
  }
  function prompt(text) {
    if (!text) return null;
    return el(
      "details",
      { class: "prompt" },
      el("summary", { text: "Prompt as sent" }),
      el("pre", { text: text }),
    );
  }

  function card(shot) {
    const bad = shot.qc.some((v) => !v.passed) || shot.error;
    const node = el("article", { class: "card" + (bad ? " bad" : ""), id: "shot-" + shot.index });
    node.dataset.shot = shot.id;
    const end = shot.start + shot.duration;
    node.append(
      el(
        "header",
        {},
        el("h3", { text: shot.id }),
        el("span", {
          class: "muted",
          text: "scene " + shot.scene + " · " + clock(shot.start) + "–" + clock(end),
        }),
        el("button", { type: "button", class: "link", text: "▶ in film", onclick: () => jump(shot) }),
        el("span", { class: "badge" }),
      ),
    );
    // the clips: the shot's as in the film, every take (the kept one marked), the previz
    const row = el("div", { class: "clips" });
    if (shot.previz) row.append(clip(shot.previz, "previz"));
    if (shot.takes.length) {
      for (const take of shot.takes) {
        const label = "take " + take.n + " · " + take.rung + " · " + take.engine;
        const fig = take.clip ? clip(take.clip, label) : el("figure", { class: "clip missing" },
          el("div", { class: "none", text: take.error || "no clip" }), el("figcaption", { text: label }));
        fig.classList.add("take");
        if (take.kept) fig.classList.add("kept");
        if (take.qc.some((v) => !v.passed)) fig.classList.add("bad");
        if (take.kept) fig.querySelector("figcaption").append(el("strong", { text: " · kept" }));
        row.append(fig);
      }
    } else if (shot.clip) {
      row.append(clip(shot.clip, shot.previz ? "final" : "in the film"));
    } else {
      row.append(el("figure", { class: "clip missing" },
        el("div", { class: "none", text: shot.slate || shot.error || "no clip in the store" }),
        el("figcaption", { text: "no clip" })));
    }
    const about = el("div", { class: "about" });
    const verdicts = el("div", { class: "verdicts" });
    if (row.children.length > 1) {
      node.append(row, el("div", { class: "card-body" }, about, verdicts));
    } else {
      node.append(el("div", { class: "card-body single" }, row, about, verdicts));
    }
    about.append(
      facts([
        ["engine", shot.engine + (shot.fallback_from ? " (after " + shot.fallback_from + " failed)" : "")],
        ["model", shot.model],
        ["seed", String(shot.seed)],
        ["cost", money(shot.cost)],
        ["rendered", shot.cached ? "from the store" : secs(shot.seconds)],
        ["conditioning", shot.conditioning.join(", ")],
        ["error", shot.error],
        ["slate", shot.slate],
        ["retakes stopped", shot.retakes_stopped],
      ]),
    );
    if (shot.lines.length) {
      const lines = el("ul", { class: "lines" });
      for (const line of shot.lines) {
        lines.append(el("li", {}, el("b", { text: line.speaker + ": " }), line.text));
      }
      about.append(lines);
    }
    about.append(prompt(shot.prompt));
    verdicts.append(el("h4", { text: shot.takes.length ? "Checks (kept take)" : "Checks" }), checks(shot.qc));
    for (const take of shot.takes) {
      if (take.kept) continue;
      verdicts.append(
        el(
          "details",
          { class: "take-details" },
          el("summary", { text: "take " + take.n + " (" + take.rung + ", seed " + take.seed + ", " + money(take.cost) + ")" }),
          prompt(take.prompt),
          checks(take.qc),
        ),
      );
    }
    node.append(decisions(shot));
    return node;
  }

  // -- decisions ------------------------------------------------------------------------
  function decisions(shot) {
    const box = el("div", { class: "decide" });
    const note = el("textarea", {
      class: "note",
      rows: 2,
      maxlength: 2000,
      placeholder: "What to change in the retake (goes into the prompt)",
      "aria-label": "Retake note for " + shot.id,
    });
    const kept = shot.takes.find((t) => t.kept);
    const reviewed = kept ? kept.job_key : shot.job_key;
    const buttons = el(
      "div",
      { class: "buttons" },
      el("button", {
        type: "button",
        class: "approve",
        "data-action": "approve",
        text: "Approve",
        disabled: !shot.clip && !kept, // a failed shot (a slate) can only be retaken
        title: !shot.clip && !kept ? "it failed: retake it" : null,
        onclick: () => decide(shot, { decision: "approve", job_key: reviewed }),
      }),
      el("button", {
        type: "button",
        class: "retake",
        "data-action": "retake",
        text: "Retake with note",
        onclick: () => decide(shot, { decision: "retake", note: note.value.trim(), job_key: reviewed }),
      }),
    );
    for (const take of shot.takes) {
      buttons.append(
        el("button", {
          type: "button",
          class: "pick",
          "data-action": "pick-" + take.n,
          text: "Pick take " + take.n,
          disabled: !take.clip,
          onclick: () => decide(shot, { decision: "pick", take: take.n, job_key: take.job_key }),
        }),
      );
    }
    buttons.append(
      el("button", { type: "button", class: "link", "data-action": "clear", text: "Clear", onclick: () => decide(shot, null) }),
    );
    const existing = review.shots[shot.id];
    if (existing && existing.note) note.value = existing.note;
    box.append(note, buttons);
    return box;
  }

  function decide(shot, decision) {
    changed = true;
    if (decision) {
      for (const key of Object.keys(decision)) {
        if (decision[key] === null || decision[key] === undefined || decision[key] === "") delete decision[key];
      }
      review.shots[shot.id] = decision;
    } else {
      delete review.shots[shot.id];
    }
    select(shot.id);
    show();
    if (served) save();
  }

  function text() {
    const ordered = { version: 1, shots: {} };
    // the shots of this render only: a decision on a shot it no longer has cannot be acted on
    for (const shot of data.shots) if (review.shots[shot.id]) ordered.shots[shot.id] = review.shots[shot.id];
    return JSON.stringify(ordered, null, 2) + "\n";
  }

  function label(d) {
    if (!d) return "";
    if (d.decision === "approve") return "approved";
    if (d.decision === "retake") return "retake";
    return "take " + d.take + " picked";
  }

  function show() {
    const counts = { approve: 0, retake: 0, pick: 0 };
    for (const shot of data.shots) {
      const d = review.shots[shot.id];
      if (d) counts[d.decision] += 1;
      for (const node of [cards.get(shot.id), blocks.get(shot.id)]) {
        node.classList.remove("d-approve", "d-retake", "d-pick");
        if (d) node.classList.add("d-" + d.decision);
      }
      cards.get(shot.id).querySelector(".badge").textContent = label(d);
      blocks.get(shot.id).querySelector(".block-mark").textContent =
        d ? { approve: "✓", retake: "↻", pick: "#" + d.take }[d.decision] : "";
    }
    const open = data.shots.length - counts.approve - counts.retake - counts.pick;
    document.getElementById("decided").textContent =
      counts.approve + " approved · " + counts.retake + " to retake · " + counts.pick +
      " picked · " + open + " open";
  }

  const state = document.getElementById("save-state");
  let saving = Promise.resolve();
  function save() {
    const body = text();
    saving = saving.then(async () => {
      try {
        const answer = await fetch("review.json", {
          method: "POST",
          headers: { "Content-Type": "application/json" },
          body: body,
        });
        state.textContent = answer.ok ? "saved to review.json" : "not saved: " + (await answer.text());
        state.classList.toggle("error", !answer.ok);
      } catch (error) {
        state.textContent = "not saved: " + error;
        state.classList.add("error");
      }
    });
  }

  document.getElementById("download").addEventListener("click", () => {
    const url = URL.createObjectURL(new Blob([text()], { type: "application/json" }));
    const link = el("a", { href: url, download: "review.json" });
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(url), 1000);
  });

  // -- cost and jobs ----------------------------------------------------------------------
  const costs = document.getElementById("costs");
  for (const [engine, usd] of Object.entries(data.cost_by_engine)) {
    costs.append(el("tr", {}, el("td", { text: engine }), el("td", { class: "num", text: money(usd) })));
  }
  costs.append(el("tr", { class: "total" }, el("td", { text: "total" }), el("td", { class: "num", text: money(data.cost) })));

  const jobs = document.getElementById("jobs");
  if (data.jobs.local) {
    document.getElementById("jobs-title").textContent = "Render time";
    document.getElementById("jobs-note").textContent =
      "No jobs in the journal: each shot was made on this machine, in the time shown.";
    const most = Math.max(0.01, ...data.jobs.shots.map((s) => s.seconds));
    for (const shot of data.jobs.shots) {
      const bar = el("span", { class: "bar local" });
      bar.style.width = (100 * shot.seconds) / most + "%";
      jobs.append(
        el("div", { class: "job" }, el("span", { class: "job-label", text: shot.label }),
          el("span", { class: "track" }, bar),
          el("span", { class: "num", text: shot.cached ? "stored" : secs(shot.seconds) })),
      );
    }
  } else {
    const note = document.getElementById("jobs-note");
    note.textContent = "From the journal, from the first job's start: ";
    for (const event of ["queued", "submitted", "done", "downloaded", "failed"]) {
      note.append(el("span", { class: "legend" }, el("span", { class: "dot " + event }), event));
    }
    const all = data.jobs.rows.flatMap((r) => r.events.map((e) => e[1]));
    const t0 = Math.min(...all);
    const span = Math.max(0.001, Math.max(...all) - t0);
    for (const row of data.jobs.rows) {
      const track = el("span", { class: "track" });
      const times = row.events.map((e) => e[1]);
      const bar = el("span", { class: "bar" });
      bar.style.left = (100 * (Math.min(...times) - t0)) / span + "%";
      bar.style.width = (100 * (Math.max(...times) - Math.min(...times))) / span + "%";
      track.append(bar);
      for (const [event, at] of row.events) {
        const dot = el("span", { class: "dot " + event, title: event + " " + after(at - t0) });
        dot.style.left = (100 * (at - t0)) / span + "%";
        track.append(dot);
      }
      const last = row.events[row.events.length - 1];
      jobs.append(
        el("div", { class: "job", title: row.label + " (job " + row.key + "…)" }, el("span", { class: "job-label", text: row.label }),
          track, el("span", { class: "num", text: last[0] + " " + after(last[1] - t0) })),
      );
    }
  }

  // -- go -------------------------------------------------------------------------------
  const list = document.getElementById("shots");
  for (const shot of data.shots) {
    const node = card(shot);
    cards.set(shot.id, node);
    list.append(node);
  }
  show();
  let changed = false; // a decision made here before the saved ones arrived wins
  if (served) {
    state.textContent = "served: each decision is saved to review.json";
    fetch("review.json", { cache: "no-store" })
      .then((answer) => (answer.ok ? answer.json() : null))
      .then((saved) => {
        if (saved && saved.shots && !changed) {
          review = { version: 1, shots: saved.shots };
          for (const [id, d] of Object.entries(saved.shots)) {
            const box = cards.get(id);
            if (box && d.note) box.querySelector(".note").value = d.note;
          }
          show();
        }
      })
      .catch(() => {})
      .finally(() => {
        document.body.dataset.ready = "1";
      });
  } else {
    state.textContent = "opened from disk: download to keep decisions";
    document.body.dataset.ready = "1";
  }
})();
