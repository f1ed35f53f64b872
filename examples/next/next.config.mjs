// Valet runs on the server as the Node package it is (a native SQLite binding, node:http).
export default { serverExternalPackages: ['valet'] };
