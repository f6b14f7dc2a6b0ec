// A little help where JavaScript runs; every page works without it.
"use strict";

// The time-travel slider shows the case at the chosen version as soon as it is let go.
function wireAutosubmit() {
  document.querySelectorAll("input[data-autosubmit]").forEach(function (input) {
    var output = input.form.querySelector("output");
    input.addEventListener("input", function () {
      if (output) output.textContent = input.value + " / " + input.max;
    });
    input.addEventListener("change", function () { input.form.submit(); });
  });
}

// Party rows of the intake form: add and remove without a round trip.
function renumber(container) {
  container.querySelectorAll("[data-party-row]").forEach(function (row, index) {
    row.querySelectorAll("[id^='parties-'], [for^='parties-'], [name^='parties-'], [aria-describedby^='parties-']").forEach(function (el) {
      ["id", "for", "name", "aria-describedby"].forEach(function (attr) {
        var value = el.getAttribute(attr);
        if (value) el.setAttribute(attr, value.replace(/^parties-\d+-/, "parties-" + index + "-"));
      });
    });
    var title = row.querySelector(".party-title");
    if (title) title.textContent = title.textContent.replace(/\d+/, String(index + 1));
    var remove = row.querySelector("[data-remove-party]");
    if (remove) remove.value = String(index);
  });
}

function wireParties() {
  var container = document.querySelector("[data-party-rows]");
  var add = document.querySelector("[data-add-party]");
  if (!container || !add) return;
  add.addEventListener("click", function (event) {
    var rows = container.querySelectorAll("[data-party-row]");
    if (!rows.length) return;  // nothing to copy: let the server add one
    event.preventDefault();
    var row = rows[rows.length - 1].cloneNode(true);
    row.querySelectorAll("input").forEach(function (input) { input.value = ""; input.removeAttribute("aria-invalid"); });
    row.querySelectorAll(".field-error").forEach(function (el) { el.remove(); });
    row.querySelectorAll(".invalid").forEach(function (el) { el.classList.remove("invalid"); });
    row.querySelectorAll("[aria-describedby]").forEach(function (el) { el.removeAttribute("aria-describedby"); });
    var role = row.querySelector("select");
    if (role) role.value = "respondent";
    container.appendChild(row);
    renumber(container);
    var name = row.querySelector("input");
    if (name) name.focus();
  });
  container.addEventListener("click", function (event) {
    var button = event.target.closest("[data-remove-party]");
    if (!button) return;
    event.preventDefault();
    var rows = container.querySelectorAll("[data-party-row]");
    if (rows.length <= 1) return;
    button.closest("[data-party-row]").remove();
    renumber(container);
    add.focus();
  });
}

// After a refused form, move the keyboard to the list of what to correct.
function focusErrors() {
  var summary = document.getElementById("error-summary");
  if (summary) { summary.focus(); return; }
  var open = document.querySelector("details.action[open]");
  if (open) {
    var invalid = open.querySelector("[aria-invalid='true'], .error");
    (invalid || open.querySelector("summary")).focus();
  }
}

document.addEventListener("DOMContentLoaded", function () {
  wireAutosubmit();
  wireParties();
  focusErrors();
});
