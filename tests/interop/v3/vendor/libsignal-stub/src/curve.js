'use strict';
// Static `exports.x =` assignments: baileys imports these names from ESM, and Node finds the
// names of a CommonJS module's exports only in this literal form.
const fail = require('./fail');

exports.generateKeyPair = fail('curve.generateKeyPair');
exports.calculateAgreement = fail('curve.calculateAgreement');
exports.calculateSignature = fail('curve.calculateSignature');
exports.verifySignature = fail('curve.verifySignature');
exports.getPublicFromPrivateKey = fail('curve.getPublicFromPrivateKey');
