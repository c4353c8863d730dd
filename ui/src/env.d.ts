/** Where the build put pdf.js's data files, e.g. `/assets/pdfjs-5.6.205/` (vite.config.ts). */
declare const __PDFJS_DATA__: string;
