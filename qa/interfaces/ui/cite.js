() => {
  // Clicking [n] in an answer opens that answer's group of source cards, scrolls card n into view and
  // flashes it. One delegated listener on document (capture phase), so re-rendered messages need nothing.
  if (window.__qaCitesInstalled) return;
  window.__qaCitesInstalled = true;

  const target = (link) => {
    let turn = link.getAttribute("data-turn");
    let n = link.getAttribute("data-n");
    const match = /^#src-(\d+)-(\d+)$/.exec(link.getAttribute("href") || "");
    if ((!turn || !n) && match) { turn = match[1]; n = match[2]; }
    return turn && n ? { turn, n } : null;
  };

  const show = (turn, n) => {
    const card = document.getElementById(`src-${turn}-${n}`);
    if (!card) return false;
    document.querySelectorAll("details.qa-turn").forEach((group) => {
      group.open = group.getAttribute("data-turn") === String(turn);
    });
    card.scrollIntoView({ behavior: "smooth", block: "center" });
    card.classList.remove("qa-flash");
    void card.offsetWidth; // restart the animation on repeated clicks
    card.classList.add("qa-flash");
    document.querySelectorAll(".qa-card.qa-current").forEach((c) => c.classList.remove("qa-current"));
    card.classList.add("qa-current");
    return true;
  };

  // The Chatbot's copy button copies a message's HTML; give the clipboard plain text instead
  // (answer, notes and the cited sources). DOMParser documents are inert: nothing in them runs or loads.
  const toPlain = (html) => {
    const doc = new DOMParser().parseFromString(html, "text/html");
    doc.querySelectorAll("br").forEach((br) => br.replaceWith("\n"));
    doc.querySelectorAll("div").forEach((div) => div.append("\n"));
    return (doc.body.textContent || "").replace(/[ \t]+\n/g, "\n").replace(/\n{3,}/g, "\n\n").trim();
  };
  const clipboard = navigator.clipboard;
  if (clipboard && typeof clipboard.writeText === "function") {
    const write = clipboard.writeText.bind(clipboard);
    clipboard.writeText = (text) =>
      write(typeof text === "string" && /class="qa-/.test(text) ? toPlain(text) : text);
  }

  document.addEventListener("click", (event) => {
    const link = event.target instanceof Element ? event.target.closest("a.cite") : null;
    if (!link) return;
    event.preventDefault();
    event.stopPropagation();
    const where = target(link);
    if (where) show(where.turn, where.n);
  }, true);
}
