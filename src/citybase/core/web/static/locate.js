// "Use my location": fills a form's lon/lat fields from the browser's position (WGS84, as the
// Geolocation API gives it). The button shows only where the browser can do it; without script
// the form works as before, by address.
document.addEventListener("DOMContentLoaded", () => {
  for (const button of document.querySelectorAll("button[data-locate]")) {
    if (!("geolocation" in navigator)) continue;
    const form = button.form;
    const status = document.getElementById(button.dataset.locate);
    button.hidden = false;
    button.addEventListener("click", (event) => {
      event.preventDefault();
      status.textContent = button.dataset.waiting;
      navigator.geolocation.getCurrentPosition(
        (position) => {
          const lon = position.coords.longitude.toFixed(6);
          const lat = position.coords.latitude.toFixed(6);
          form.elements.lon.value = lon;
          form.elements.lat.value = lat;
          status.textContent = `${button.dataset.taken} (${lon}, ${lat})`;
        },
        () => { status.textContent = button.dataset.failed; },
        { enableHighAccuracy: true, timeout: 15000, maximumAge: 60000 },
      );
    });
  }
});
