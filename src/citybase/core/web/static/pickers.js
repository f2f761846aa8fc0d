// The region picker as a cascade: district ▸ street ▸ community ▸ grid, each list filled from
// /regions/children when the one above is chosen. The page's plain list of every region (what a
// browser without script shows) is hidden and stops being sent; a hidden field carries the
// deepest region chosen instead.
async function regionChildren(url, parent) {
  const response = await fetch(`${url}&parent=${encodeURIComponent(parent)}`, {
    headers: { Accept: "application/json" },
  });
  return response.ok ? response.json() : [];
}

function fill(select, regions, empty) {
  select.replaceChildren(new Option(empty, ""));
  for (const region of regions) select.add(new Option(region.name, region.code));
  select.hidden = regions.length === 0;
}

async function cascade(box) {
  const plain = box.querySelector("select");
  const url = box.dataset.cascade;
  const levels = box.dataset.levels.split(" ");
  const names = box.dataset.names.split("|");
  const empty = box.dataset.empty;
  const path = box.dataset.path.split(" ").filter(Boolean);
  const field = document.createElement("input");
  field.type = "hidden";
  field.name = plain.name;
  field.value = plain.value;
  plain.removeAttribute("name");
  const required = plain.required;
  plain.required = false;
  plain.hidden = true;
  box.append(field);
  const lists = levels.map((level, i) => {
    const select = document.createElement("select");
    select.setAttribute("aria-label", names[i]);
    select.dataset.level = level;
    select.hidden = true;
    box.append(select);
    return select;
  });
  lists[0].required = required;
  const choose = async (i) => {
    const code = lists[i].value;
    field.value = code || (i > 0 ? lists[i - 1].value : "");
    for (const below of lists.slice(i + 1)) fill(below, [], empty);
    if (code && i + 1 < lists.length) fill(lists[i + 1], await regionChildren(url, code), empty);
  };
  lists.forEach((select, i) => select.addEventListener("change", () => choose(i)));
  fill(lists[0], await regionChildren(url, ""), empty);
  for (const [i, code] of path.entries()) {
    if (i >= lists.length) break;
    lists[i].value = code;
    await choose(i);
  }
}

document.addEventListener("DOMContentLoaded", () => {
  for (const box of document.querySelectorAll("[data-cascade]")) cascade(box);
});
