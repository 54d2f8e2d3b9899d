'use strict';
// Static `exports.x =` assignments: baileys imports these names from ESM, and Node finds the
// names of a CommonJS module's exports only in this literal form.
const fail = require('./fail');

exports.encrypt = fail('crypto.encrypt');
exports.decrypt = fail('crypto.decrypt');
exports.calculateMAC = fail('crypto.calculateMAC');
exports.hash = fail('crypto.hash');
exports.deriveSecrets = fail('crypto.deriveSecrets');
exports.verifyMAC = fail('crypto.verifyMAC');
