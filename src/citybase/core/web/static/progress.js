// A progress line that follows stored work: every two seconds it asks the page's
// data-progress address how far the work got and shows the answer (the bar and the line, in the
// page's language, as the server words it). When the work ends the page is loaded again to show
// its result. Without script the line shows the state the page was rendered with.
async function follow(box) {
  const bar = box.querySelector("progress");
  const text = box.querySelector("[data-line]");
  const started = box.dataset.status;
  for (;;) {
    await new Promise((resolve) => setTimeout(resolve, 2000));
    let found;
    try {
      const response = await fetch(box.dataset.progress, {
        headers: { Accept: "application/json" },
      });
      if (!response.ok) return;
      found = await response.json();
    } catch {
      continue; // a lost answer: ask again
    }
    text.textContent = found.line;
    if (found.total > 0) {
      bar.max = found.total;
      bar.value = found.done;
    } else {
      bar.removeAttribute("value"); // under way, share not yet known
    }
    if (found.status === "done" || found.status === "failed") {
      if (found.status !== started) window.location.reload();
      return;
    }
  }
}

// A form whose submission does long work in its own request: while the browser waits for the
// answer, the page asks how far the work under the form's one-time token got.
async function followForm(form, box) {
  const bar = box.querySelector("progress");
  const text = box.querySelector("[data-line]");
  const token = form.elements.form_token ? form.elements.form_token.value : "";
  box.hidden = false;
  for (;;) {
    await new Promise((resolve) => setTimeout(resolve, 1000));
    try {
      const response = await fetch("/console/progress/form", {
        headers: { Accept: "application/json", "X-Form-Token": token },
      });
      if (!response.ok) continue; // not begun yet (the file is still on its way)
      const found = await response.json();
      text.textContent = found.line;
      if (found.total > 0) {
        bar.max = found.total;
        bar.value = found.done;
      }
    } catch {
      // a lost answer: ask again
    }
  }
}

// A download whose file is made while the browser waits (an export): the link is sent with a
// token the page chooses (its "follow" parameter), and the page asks how far the work under that
// token got until the file is there.
function followDownload(link) {
  const box = document.getElementById(link.dataset.followExport);
  link.addEventListener("click", () => {
    const token = Array.from(crypto.getRandomValues(new Uint8Array(16)), (b) =>
      b.toString(16).padStart(2, "0"),
    ).join("");
    const url = new URL(link.href, window.location.href);
    url.searchParams.set("follow", token);
    link.href = url.toString();
    box.hidden = false;
    const bar = box.querySelector("progress");
    const text = box.querySelector("[data-line]");
    const timer = setInterval(async () => {
      try {
        const response = await fetch("/console/progress/form", {
          headers: { Accept: "application/json", "X-Form-Token": token },
        });
        if (!response.ok) return; // not begun yet
        const found = await response.json();
        text.textContent = found.line;
        if (found.total > 0) {
          bar.max = found.total;
          bar.value = found.done;
        }
        if (found.status === "done") clearInterval(timer);
      } catch {
        // a lost answer: ask again
      }
    }, 1000);
  });
}

document.addEventListener("DOMContentLoaded", () => {
  for (const link of document.querySelectorAll("a[data-follow-export]")) followDownload(link);
  for (const box of document.querySelectorAll("[data-progress]")) {
    if (box.dataset.status === "pending" || box.dataset.status === "running") follow(box);
  }
  for (const box of document.querySelectorAll("[data-follow-form]")) {
    const form = box.closest("form");
    form.addEventListener("submit", () => followForm(form, box));
  }
});
