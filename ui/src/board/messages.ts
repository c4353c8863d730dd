// UI strings of the board components. To be merged into the vue-i18n catalogs
// (`ui/src/locales/en.json` and `zh-CN.json`, under the key `board`); until then a host
// page can merge them itself with `i18n.global.mergeLocaleMessage(lang, boardMessages[lang])`.
// Components read them only through `useI18n().t("board.…")`, so merging is a copy.

export const boardMessages = {
  en: {
    board: {
      toolbar: "Whiteboard tools",
      tool: {
        pen: "Pen",
        highlighter: "Highlighter",
        line: "Line",
        arrow: "Arrow",
        rectangle: "Rectangle",
        ellipse: "Ellipse",
        text: "Text",
        eraser: "Eraser",
        partial_eraser: "Partial eraser",
        laser: "Laser pointer",
      },
      colour: "Colour {name}",
      colours: {
        black: "black",
        red: "red",
        orange: "orange",
        yellow: "yellow",
        green: "green",
        blue: "blue",
        purple: "purple",
        white: "white",
      },
      width: "Line width {n}",
      undo: "Undo",
      redo: "Redo",
      clear: "Clear page",
      clearConfirm: "Clear everything on this page?",
      zoomReset: "Fit page",
      zoomLevel: "Zoom {percent}%",
      canvas: "Whiteboard page",
      readOnly: "View only: the teacher has not handed you the pen",
      textPrompt: "Type text, then press Enter",
      noPage: "No page yet",
    },
  },
  "zh-CN": {
    board: {
      toolbar: "白板工具",
      tool: {
        pen: "画笔",
        highlighter: "荧光笔",
        line: "直线",
        arrow: "箭头",
        rectangle: "矩形",
        ellipse: "椭圆",
        text: "文字",
        eraser: "橡皮擦",
        partial_eraser: "局部擦除",
        laser: "激光笔",
      },
      colour: "颜色：{name}",
      colours: {
        black: "黑色",
        red: "红色",
        orange: "橙色",
        yellow: "黄色",
        green: "绿色",
        blue: "蓝色",
        purple: "紫色",
        white: "白色",
      },
      width: "线宽 {n}",
      undo: "撤销",
      redo: "重做",
      clear: "清空本页",
      clearConfirm: "确定清空本页的所有内容吗？",
      zoomReset: "适应页面",
      zoomLevel: "缩放 {percent}%",
      canvas: "白板页面",
      readOnly: "仅可查看：老师尚未把画笔交给你",
      textPrompt: "输入文字后按回车",
      noPage: "还没有页面",
    },
  },
} as const;

/** The eight swatches, in toolbar order; names key `board.colours`. */
export const SWATCHES = [
  { name: "black", color: "#1f2937" },
  { name: "red", color: "#dc2626" },
  { name: "orange", color: "#ea580c" },
  { name: "yellow", color: "#facc15" },
  { name: "green", color: "#16a34a" },
  { name: "blue", color: "#2563eb" },
  { name: "purple", color: "#9333ea" },
  { name: "white", color: "#ffffff" },
] as const;

export const WIDTHS = [2, 4, 8, 16] as const;
