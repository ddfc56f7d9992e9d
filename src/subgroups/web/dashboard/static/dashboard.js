// The dashboard's few behaviours: copy buttons, confirmation dialogs, the size chart, the
// current section's tab kept in sight, and an import's live progress. Pages work without this
// file except for these things (an import's page then reloads itself while the import runs).
"use strict";

(function () {
  const live = () => document.getElementById("live");

  function announce(text) {
    const region = live();
    if (region) {
      region.textContent = "";
      window.setTimeout(() => { region.textContent = text; }, 50);
    }
  }

  // Copy: the Clipboard API where the page is a secure context (HTTPS or localhost),
  // otherwise a selected, off-screen textarea and execCommand("copy").
  function copyWithSelection(text) {
    const area = document.createElement("textarea");
    area.value = text;
    area.setAttribute("readonly", "");
    area.className = "offscreen";
    document.body.appendChild(area);
    area.select();
    let done = false;
    try {
      done = document.execCommand("copy");
    } catch (error) {
      done = false;
    }
    area.remove();
    return done;
  }

  async function copy(text) {
    if (navigator.clipboard && window.isSecureContext) {
      try {
        await navigator.clipboard.writeText(text);
        return true;
      } catch (error) {
        // fall through to the selection fallback
      }
    }
    return copyWithSelection(text);
  }

  function setupCopyButtons() {
    document.querySelectorAll("button[data-copy]").forEach((button) => {
      const label = button.querySelector(".copy-label");
      button.addEventListener("click", async () => {
        const ok = await copy(button.dataset.copy);
        button.dataset.copied = ok ? "yes" : "no";
        if (label) label.textContent = ok ? "Copied" : "Press Ctrl+C";
        announce(ok ? "Copied to the clipboard" : "Could not copy: select the text and copy it");
        window.setTimeout(() => {
          if (label) label.textContent = "Copy";
          delete button.dataset.copied;
        }, 2000);
      });
    });
  }

  // Forms with data-confirm ask first, in a modal dialog (Esc or Cancel keeps things as they are).
  function setupConfirmations() {
    const dialog = document.getElementById("confirm");
    document.querySelectorAll("form[data-confirm]").forEach((form) => {
      form.addEventListener("submit", (event) => {
        event.preventDefault();
        if (!dialog || typeof dialog.showModal !== "function") {
          if (window.confirm(form.dataset.confirm)) form.submit();
          return;
        }
        document.getElementById("confirm-title").textContent =
          form.dataset.confirmTitle || "Are you sure?";
        document.getElementById("confirm-text").textContent = form.dataset.confirm;
        document.getElementById("confirm-ok").textContent = form.dataset.confirmAction || "Confirm";
        dialog.returnValue = "";
        dialog.onclose = () => {
          if (dialog.returnValue === "confirm") form.submit();
        };
        dialog.showModal();
      });
    });
  }

  function setupChart() {
    const data = document.getElementById("chart-data");
    const canvas = document.getElementById("sizes-chart");
    if (!data || !canvas || typeof window.Chart !== "function") return;
    const series = JSON.parse(data.textContent);
    const style = getComputedStyle(document.documentElement);
    const color = (name) => style.getPropertyValue(name).trim();
    const line = (label, values, stroke) => ({
      label,
      data: values,
      borderColor: stroke,
      backgroundColor: stroke,
      borderWidth: 2,
      pointRadius: values.length > 40 ? 0 : 2,
      pointHoverRadius: 4,
      tension: 0.2,
    });
    new window.Chart(canvas, {
      type: "line",
      data: {
        labels: series.labels,
        datasets: [
          line("Subscribed", series.subscribed, color("--on")),
          line("Unsubscribed", series.unsubscribed, color("--off")),
        ],
      },
      options: {
        animation: false,
        responsive: true,
        maintainAspectRatio: false,
        interaction: { mode: "index", intersect: false },
        scales: {
          x: { grid: { display: false }, ticks: { maxTicksLimit: 8, color: color("--muted") } },
          y: {
            beginAtZero: true,
            ticks: { precision: 0, color: color("--muted") },
            grid: { color: color("--line") },
          },
        },
        plugins: {
          legend: { position: "bottom", labels: { boxWidth: 12, color: color("--text") } },
        },
      },
    });
  }

  // An import's page follows the import: its progress (JSON, the API's shape) once a second
  // until it ends.
  const STATUS = {
    queued: ["badge-unknown", "Queued"],
    running: ["badge-active", "Running"],
    finished: ["badge-on", "Finished"],
    failed: ["badge-off", "Failed"],
  };

  function showImport(box, job) {
    const number = (value) => Number(value).toLocaleString("en-US");
    box.querySelectorAll("[data-field]").forEach((element) => {
      const value = job[element.dataset.field];
      if (element.dataset.field === "failure") {
        element.textContent = value || "";
        element.hidden = !value;
      } else if (value !== undefined && value !== null) {
        element.textContent = number(value);
      }
    });
    const bar = box.querySelector("progress");
    if (bar && job.total_rows) {
      bar.max = job.total_rows;
      bar.value = job.rows;
      bar.textContent = `${job.rows} of ${job.total_rows}`;
    }
    const [kind, label] = STATUS[job.status] || STATUS.queued;
    box.querySelectorAll("[data-status-badge]").forEach((badge) => {
      badge.className = `badge ${kind}`;
      badge.textContent = label;
    });
    const problems = job.refused + job.invalid;
    const ended = !(job.status in { queued: 1, running: 1 });
    box.querySelectorAll("[data-errors-link]").forEach((e) => { e.hidden = problems === 0; });
    box.querySelectorAll("[data-no-errors]").forEach((e) => {
      e.hidden = problems > 0;
      if (ended) e.textContent = "No refused or invalid rows.";
    });
    document.querySelectorAll("[data-reload]").forEach((e) => { e.hidden = ended; });
    box.dataset.status = job.status;
    return ended;
  }

  function followImport() {
    const box = document.querySelector("[data-import-progress]");
    if (!box || !(box.dataset.status in { queued: 1, running: 1 })) return;
    const poll = async () => {
      let job;
      try {
        const response = await fetch(box.dataset.importProgress, {
          headers: { Accept: "application/json" },
          cache: "no-store",
        });
        const type = response.headers.get("content-type") || "";
        // Signed out meanwhile (the sign-in page came back): stop; a reload shows why.
        if (!response.ok || !type.startsWith("application/json")) return;
        job = await response.json();
      } catch (error) {
        window.setTimeout(poll, 5000);  // the server is out of reach for now
        return;
      }
      if (showImport(box, job)) {
        announce(`Import ${STATUS[job.status][1].toLowerCase()}: ${job.rows} rows`);
      } else {
        window.setTimeout(poll, 1000);
      }
    };
    window.setTimeout(poll, 1000);
  }

  // At a phone's width the section tabs scroll sideways: bring the current one into the strip
  // (the strip alone scrolls, never the page).
  function showCurrentTab() {
    const current = document.querySelector(".tabs [aria-current='page']");
    if (!current) return;
    const strip = current.parentElement;
    const beyond = current.getBoundingClientRect().right - strip.getBoundingClientRect().right;
    if (beyond > 0) strip.scrollLeft += beyond + 16;
  }

  document.addEventListener("DOMContentLoaded", () => {
    showCurrentTab();
    setupCopyButtons();
    setupConfirmations();
    setupChart();
    followImport();
  });
})();
