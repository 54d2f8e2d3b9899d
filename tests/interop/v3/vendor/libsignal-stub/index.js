'use strict';
// Exports the names @whiskeysockets/baileys imports from libsignal so that the module loads;
// the WhatsApp channel is disabled in the interop suite, so nothing here is ever used.
const fail = require('./src/fail');

function unavailable(name) {
  return class {
    constructor() {
      fail(name)();
    }
  };
}

exports.ProtocolAddress = unavailable('ProtocolAddress');
exports.SessionBuilder = unavailable('SessionBuilder');
exports.SessionCipher = unavailable('SessionCipher');
exports.SessionRecord = unavailable('SessionRecord');
exports.curve = require('./src/curve');
exports.crypto = require('./src/crypto');
exports.keyhelper = {};
