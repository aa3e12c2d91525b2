// The kassa page's small enhancements. The page works without them: the code can always be
// typed, and every step is a plain form.
//
// 1. "Scan de QR-code" opens the rear camera (qr-scanner 1.4.2, vendored; it uses the browser's
//    BarcodeDetector where there is one, else its own decoder in a worker). A camera needs HTTPS
//    or localhost: without one the button stays hidden and typing is what is offered.
// 2. A form is sent once: a second tap while it is on its way does nothing. (The server books
//    nothing twice anyway: every payment form carries one Idempotency-Key.)
import QrScanner from "/static/qr-scanner-1.4.2/qr-scanner.min.js";

const scanButton = document.getElementById("scan");
const scanBox = document.getElementById("scan-box");
const video = document.getElementById("scan-video");
const stopButton = document.getElementById("scan-stop");
const status = document.getElementById("scan-status");
const tokenField = document.querySelector("input[name=token]");

function say(text) {
  if (status) status.textContent = text;
}

if (scanButton && scanBox && video && tokenField && window.isSecureContext &&
    navigator.mediaDevices && navigator.mediaDevices.getUserMedia) {
  let scanner = null;
  const stop = () => {
    if (scanner) {
      scanner.stop();
      scanner.destroy();
      scanner = null;
    }
    scanBox.hidden = true;
    scanButton.hidden = false;
    scanButton.focus();
  };
  scanButton.hidden = false;
  scanButton.addEventListener("click", async () => {
    scanBox.hidden = false;
    scanButton.hidden = true;
    say("De camera gaat aan. Houd de QR-code voor de camera.");
    scanner = new QrScanner(video, (result) => {
      const text = (result && result.data ? result.data : "").trim();
      if (!text) return;
      tokenField.value = text;
      say("QR-code gelezen.");
      stop();
      const form = tokenField.form;
      if (form) {
        if (form.requestSubmit) form.requestSubmit(); else form.submit();
      }
    }, { preferredCamera: "environment", returnDetailedScanResult: true, maxScansPerSecond: 10 });
    try {
      await scanner.start();
      if (stopButton) stopButton.focus();
    } catch (e) {
      say("De camera kan niet aan. Typ de code onder de QR-code over.");
      stop();
      tokenField.focus();
    }
  });
  if (stopButton) stopButton.addEventListener("click", stop);
}

// A page shown again by the back button may come from the browser's memory with its forms
// marked as sent: they may be sent again (the server books nothing twice).
window.addEventListener("pageshow", (event) => {
  if (event.persisted) {
    for (const form of document.querySelectorAll("form[data-once]")) delete form.dataset.sent;
  }
});

for (const form of document.querySelectorAll("form[data-once]")) {
  form.addEventListener("submit", (event) => {
    if (form.dataset.sent === "1") {
      event.preventDefault();
      return;
    }
    form.dataset.sent = "1";
  });
}
