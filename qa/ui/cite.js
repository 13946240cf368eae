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

  document.addEventListener("click", (event) => {
    const link = event.target instanceof Element ? event.target.closest("a.cite") : null;
    if (!link) return;
    event.preventDefault();
    event.stopPropagation();
    const where = target(link);
    if (where) show(where.turn, where.n);
  }, true);
}
