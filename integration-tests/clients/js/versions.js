// Prints the version of kafkajs installed next to this script.
const { version } = require('kafkajs/package.json');
console.log(`kafkajs ${version}`);
