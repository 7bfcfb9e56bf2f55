export { FlatColourRenderer, TestCatalog } from '../../src/testing/test-catalog.js';
