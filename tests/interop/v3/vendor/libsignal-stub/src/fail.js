'use strict';
// Returns a function that throws: the stub must never be mistaken for a working libsignal.
module.exports = function fail(name) {
  return function () {
    throw new Error('libsignal stub: ' + name + ' is not available (WhatsApp channel disabled)');
  };
};
