// Unit tests of the lab extension's pure parts (labextension/test/*.spec.ts), with
// JupyterLab's jest preset; run by `jlpm test`.
const jlabConfig = require('@jupyterlab/testing/lib/jest-config')(__dirname);

module.exports = {
  ...jlabConfig,
  roots: ['<rootDir>/labextension'],
  reporters: ['default'],
  transform: {
    ...jlabConfig.transform,
    '^.+\\.tsx?$': ['ts-jest/legacy', { tsconfig: 'labextension/tsconfig.test.json' }]
  }
};
