/* Signed-challenge certificate login: read the certificate and PKCS#8 key the user picked, sign the
   challenge with WebCrypto in this browser and submit only the certificate and the signature. */
(function () {
  "use strict";
  var button = document.getElementById("ca-sign");
  if (!button) { return; }
  var errorBox = document.getElementById("ca-error");

  function fail(message) { errorBox.textContent = message; button.disabled = false; }

  function pemBlocks(text) {
    var re = /-----BEGIN ([A-Z0-9 ]+)-----([\s\S]*?)-----END \1-----/g, blocks = [], m;
    while ((m = re.exec(text)) !== null) { blocks.push({ type: m[1], pem: m[0], body: m[2].replace(/\s+/g, "") }); }
    return blocks;
  }

  function toBytes(b64) {
    var bin = atob(b64), out = new Uint8Array(bin.length);
    for (var i = 0; i < bin.length; i++) { out[i] = bin.charCodeAt(i); }
    return out.buffer;
  }

  function toBase64(buffer) {
    var bytes = new Uint8Array(buffer), bin = "";
    for (var i = 0; i < bytes.length; i++) { bin += String.fromCharCode(bytes[i]); }
    return btoa(bin);
  }

  function readText(file) {
    return new Promise(function (resolve, reject) {
      var reader = new FileReader();
      reader.onload = function () { resolve(reader.result); };
      reader.onerror = function () { reject(reader.error); };
      reader.readAsText(file);
    });
  }

  var ALGORITHMS = [
    { importAs: { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" }, signAs: { name: "RSASSA-PKCS1-v1_5" } },
    { importAs: { name: "ECDSA", namedCurve: "P-256" }, signAs: { name: "ECDSA", hash: "SHA-256" } },
    { importAs: { name: "ECDSA", namedCurve: "P-384" }, signAs: { name: "ECDSA", hash: "SHA-256" } }
  ];

  function importKey(der, index) {
    if (index >= ALGORITHMS.length) { return Promise.reject(new Error("badkey")); }
    var alg = ALGORITHMS[index];
    return window.crypto.subtle.importKey("pkcs8", der, alg.importAs, false, ["sign"])
      .then(function (key) { return { key: key, alg: alg }; })
      .catch(function () { return importKey(der, index + 1); });
  }

  button.addEventListener("click", function () {
    errorBox.textContent = "";
    var files = document.getElementById("ca-files").files;
    if (!files || files.length === 0) { return fail(button.dataset.msgNofile); }
    if (!window.crypto || !window.crypto.subtle) { return fail(button.dataset.msgNocrypto); }
    button.disabled = true;
    Promise.all(Array.prototype.map.call(files, readText)).then(function (texts) {
      var blocks = pemBlocks(texts.join("\n"));
      var certs = blocks.filter(function (b) { return b.type === "CERTIFICATE"; });
      var keys = blocks.filter(function (b) { return b.type === "PRIVATE KEY"; });
      if (certs.length === 0) { throw new Error("nocert"); }
      if (keys.length === 0) {
        if (blocks.some(function (b) { return b.type === "ENCRYPTED PRIVATE KEY"; })) { throw new Error("encrypted"); }
        if (blocks.some(function (b) { return /(RSA|EC) PRIVATE KEY/.test(b.type); })) { throw new Error("oldkey"); }
        throw new Error("nokey");
      }
      return importKey(toBytes(keys[0].body), 0).then(function (found) {
        var message = new TextEncoder().encode(button.dataset.message);
        return window.crypto.subtle.sign(found.alg.signAs, found.key, message);
      }).then(function (signature) {
        document.getElementById("ca-certificate").value = certs.map(function (c) { return c.pem; }).join("\n");
        document.getElementById("ca-signature").value = toBase64(signature);
        document.getElementById("ca-challenge-form").submit();
      });
    }).catch(function (err) {
      var key = "msg" + (err && err.message ? err.message.charAt(0).toUpperCase() + err.message.slice(1) : "Badkey");
      fail(button.dataset[key] || button.dataset.msgBadkey);
    });
  });
}());
