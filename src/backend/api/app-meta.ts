import pkg from '../../../package.json';

/** Name and version from package.json (bundled by electron-vite, read directly under tsx). */
export const APP_NAME: string = pkg.name;
export const APP_VERSION: string = pkg.version;
